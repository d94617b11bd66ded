# Every test gets a label from its name's kind (c/, store/, check/ and fuzz/ -> unit, lua/, e2e/,
# pg/, valgrind/), so a part of the suite runs alone: `ctest -L unit` takes seconds,
# `ctest -LE valgrind` skips the slow twins. A test that names its own label keeps it alone
# (check/cross_build, a whole second build: label build, not unit). Included last, once every
# test is defined.
get_property(NYX_ALL_TESTS DIRECTORY PROPERTY TESTS)
foreach(test ${NYX_ALL_TESTS})
  get_property(own TEST ${test} PROPERTY LABELS)
  if(own)
    continue()
  endif()
  string(REGEX REPLACE "/.*" "" kind "${test}")
  # store/sqlite/...: the conformance suite; fuzz/...: the fuzz targets on their corpus
  if(kind STREQUAL "c" OR kind STREQUAL "store" OR kind STREQUAL "check" OR kind STREQUAL "fuzz")
    set(kind unit)
  endif()
  set_property(TEST ${test} PROPERTY LABELS ${kind})
endforeach()
