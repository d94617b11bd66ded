# Every test runs through ctest: C unit tests (one per module), busted specs for the Lua API
# through stock lua5.4, and end-to-end scripts that start `nyx sim` and run real scripts.
file(GLOB C_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/c/test_*.c)
foreach(src ${C_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/engine ${CMAKE_SOURCE_DIR}/tests/c)
  target_link_libraries(${name} PRIVATE nyx_static)
  target_compile_definitions(${name} PRIVATE NYX_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  add_test(NAME c/${name} COMMAND ${name})
  set_tests_properties(c/${name} PROPERTIES TIMEOUT 120)
endforeach()

# The store's conformance suite (tests/store/conformance_*.c): each program is built once and
# runs its cases on the backend its argument names: on a SQLite file here, on PostgreSQL as
# pg/store/... (cmake/tests_pg.cmake).
file(GLOB STORE_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/store/conformance_*.c)
foreach(src ${STORE_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/engine ${CMAKE_SOURCE_DIR}/tests/c)
  target_link_libraries(${name} PRIVATE nyx_static)
  add_test(NAME store/sqlite/${name} COMMAND ${name} sqlite)
  set_tests_properties(store/sqlite/${name} PROPERTIES TIMEOUT 120)
endforeach()

# The libFuzzer targets (fuzz/fuzz_<name>.c) replayed on their committed inputs
# (fuzz/corpus/<name>/) by fuzz/replay_main.c with the compiler of the build: every input the
# fuzzer once found a fault with stays fixed, and under -DNYX_SANITIZE=ON each replay is checked
# for invalid accesses, undefined behaviour and leaks. Fuzzing itself is fuzz/run.sh (clang).
file(GLOB FUZZ_TARGETS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/fuzz/fuzz_*.c)
foreach(src ${FUZZ_TARGETS})
  get_filename_component(name ${src} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" short ${name})
  # The library holds every directory of engine/ but cli/, the nyx command's: a target of a
  # reader there (fuzz_rows.c) is built with the files of cli/ its fuzz-link line names.
  file(STRINGS ${src} link REGEX "^/\\* fuzz-link: ")
  string(REGEX MATCHALL "engine/cli/[A-Za-z0-9_]+\\.c" cli_srcs "${link}")
  list(TRANSFORM cli_srcs PREPEND ${CMAKE_SOURCE_DIR}/)
  add_executable(${name} ${src} ${CMAKE_SOURCE_DIR}/fuzz/replay_main.c ${cli_srcs})
  target_link_libraries(${name} PRIVATE nyx_static)
  add_test(NAME fuzz/${short} COMMAND ${name} ${CMAKE_SOURCE_DIR}/fuzz/corpus/${short})
  set_tests_properties(fuzz/${short} PROPERTIES TIMEOUT 120)
endforeach()

# The layers of engine/ (HACKING.md): no file includes a header of a layer above its own.
add_test(NAME check/layers COMMAND bash ${CMAKE_SOURCE_DIR}/tests/layers.sh)
set_tests_properties(check/layers PROPERTIES ENVIRONMENT "NYX_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
# The Lua bindings and nyx.h's entry points see the engine through narrow headers, never its struct.
add_test(NAME check/bindings COMMAND bash ${CMAKE_SOURCE_DIR}/tests/bindings.sh)
set_tests_properties(check/bindings PROPERTIES ENVIRONMENT "NYX_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
# Every JSON number nyx prints goes through the one shortest printer (engine/base/json_print.c).
add_test(NAME check/json_print COMMAND bash ${CMAKE_SOURCE_DIR}/tests/json_print.sh)
set_tests_properties(check/json_print PROPERTIES ENVIRONMENT "NYX_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
# Every test has one label, so `ctest -L unit` runs the quick tests only.
add_test(NAME check/labels COMMAND bash ${CMAKE_SOURCE_DIR}/tests/labels.sh)
set_tests_properties(check/labels PROPERTIES ENVIRONMENT "NYX_BUILD_DIR=${CMAKE_BINARY_DIR}")
# nyx names first the libraries the dynamic linker binds most names in (CMakeLists.txt).
string(REPLACE ";" " " NYX_LOAD_FIRST_WORDS "${NYX_LOAD_FIRST}")
add_test(NAME check/load_order COMMAND bash ${CMAKE_SOURCE_DIR}/tests/load_order.sh)
set_tests_properties(check/load_order PROPERTIES ENVIRONMENT
  "NYX_BIN=$<TARGET_FILE:nyx>;NYX_LOAD_FIRST=${NYX_LOAD_FIRST_WORDS}")

# A cross build runs none of the programs it builds, and its nyx has the same model table.
add_test(NAME check/cross_build COMMAND bash ${CMAKE_SOURCE_DIR}/tests/cross_build.sh)
set_tests_properties(check/cross_build PROPERTIES TIMEOUT 600 LABELS build ENVIRONMENT
  "NYX_SOURCE_DIR=${CMAKE_SOURCE_DIR};NYX_BIN=$<TARGET_FILE:nyx>")

# A stand-in OpenTelemetry collector (tests/e2e/otel.sh).
add_executable(otlp_receiver ${CMAKE_SOURCE_DIR}/tests/helpers/otlp_receiver.c)
target_link_libraries(otlp_receiver PRIVATE PkgConfig::MHD)

# Paths every script-level test needs: the nyx command, the Lua library and the C module.
set(NYX_TEST_ENV
  "NYX_BIN=$<TARGET_FILE:nyx>"
  "OTLP_RECEIVER=$<TARGET_FILE:otlp_receiver>"
  "NYX_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
  "LUA_PATH=${CMAKE_SOURCE_DIR}/lua/?.lua\;${CMAKE_SOURCE_DIR}/lua/?/init.lua\;${CMAKE_SOURCE_DIR}/tests/lua/?.lua\;\;"
  "LUA_CPATH=${CMAKE_BINARY_DIR}/lua/?.so\;\;")
set(LUA_SPEC_ENV "${NYX_TEST_ENV}")
if(NYX_SANITIZE)
  # Stock lua5.4 is not instrumented: the sanitizer runtime must be loaded first. Only the
  # Lua specs get it; other programs (curl) can deadlock with a preloaded runtime.
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
                  OUTPUT_VARIABLE ASAN_LIB OUTPUT_STRIP_TRAILING_WHITESPACE)
  list(APPEND LUA_SPEC_ENV "LD_PRELOAD=${ASAN_LIB}" "ASAN_OPTIONS=detect_leaks=0")
endif()

find_program(BUSTED busted REQUIRED)
find_program(LUA54 lua5.4 REQUIRED)
file(GLOB LUA_SPECS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/lua/*_spec.lua)
foreach(spec ${LUA_SPECS})
  get_filename_component(name ${spec} NAME_WE)
  add_test(NAME lua/${name} COMMAND ${LUA54} ${BUSTED} --output=utfTerminal ${spec}
           WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
  set_tests_properties(lua/${name} PROPERTIES ENVIRONMENT "${LUA_SPEC_ENV}" TIMEOUT 300
                       DEPENDS nyx_lua_module)
endforeach()

file(GLOB E2E_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/e2e/*.sh)
foreach(script ${E2E_TESTS})
  get_filename_component(name ${script} NAME_WE)
  add_test(NAME e2e/${name} COMMAND bash ${script} WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
  set_tests_properties(e2e/${name} PROPERTIES ENVIRONMENT "${NYX_TEST_ENV}" TIMEOUT 300)
endforeach()

# The same C tests, a whole script run and the Lua specs under valgrind: no leaks, no invalid
# accesses. (Not in the sanitizer build: the two instrumentations do not mix.)
find_program(VALGRIND valgrind)
if(VALGRIND AND NOT NYX_SANITIZE)
  set(VG_OPTIONS --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99
                 --suppressions=${CMAKE_SOURCE_DIR}/tests/valgrind.supp)
  set(VG ${VALGRIND} --quiet ${VG_OPTIONS})
  foreach(src ${C_TESTS})
    get_filename_component(name ${src} NAME_WE)
    add_test(NAME valgrind/${name} COMMAND ${VG} $<TARGET_FILE:${name}>)
    set_tests_properties(valgrind/${name} PROPERTIES TIMEOUT 300 ENVIRONMENT "NYX_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
  endforeach()
  foreach(src ${STORE_TESTS})
    get_filename_component(name ${src} NAME_WE)
    add_test(NAME valgrind/${name} COMMAND ${VG} $<TARGET_FILE:${name}> sqlite)
    set_tests_properties(valgrind/${name} PROPERTIES TIMEOUT 300)
  endforeach()
  add_test(NAME valgrind/council_example
           COMMAND ${VG} $<TARGET_FILE:nyx> run ${CMAKE_SOURCE_DIR}/examples/council.lua
           WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
  set_tests_properties(valgrind/council_example PROPERTIES TIMEOUT 300
                       ENVIRONMENT "NYX_DB=:memory:;NYX_PROVIDER=sim;NYX_SIM_TTFT_MS=5")
  # The Lua specs whose cases run in processes of their own (tests/lua/helpers/nyx_case.lua),
  # with each case and each `nyx sim` server under valgrind. The helper adds --quiet for a case;
  # a server keeps valgrind's summary, which tells the helper it has exited. Only the leak kinds
  # that fail are shown; curl and sqlite3 run by a case are not ours. A fair lock hands the CPU
  # between the in-process simulator's threads and the case's sooner (a quarter faster).
  # lua_close unloads the C module before the leak report: its symbols are kept for the report.
  set(VG_LUA ${VALGRIND} ${VG_OPTIONS} --show-leak-kinds=definite,indirect --trace-children=no
             --fair-sched=try --keep-debuginfo=yes)
  list(JOIN VG_LUA " " VG_LUA)
  foreach(spec ${LUA_SPECS})
    file(READ ${spec} text)
    if(NOT text MATCHES "helpers.nyx_case")
      continue() # nothing of it runs in another process
    endif()
    get_filename_component(name ${spec} NAME_WE)
    add_test(NAME valgrind/${name} COMMAND ${LUA54} ${BUSTED} --output=utfTerminal ${spec}
             WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
    # COST: the longest tests start first, so the short ones fill in around them.
    set_tests_properties(valgrind/${name} PROPERTIES TIMEOUT 600 COST 100 DEPENDS nyx_lua_module
                         ENVIRONMENT "${LUA_SPEC_ENV};NYX_TEST_VALGRIND=${VG_LUA}")
  endforeach()
endif()
