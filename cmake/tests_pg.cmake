# The store's conformance suite, chosen specs and the server's own cases (tests/pg), against a
# PostgreSQL server the test run starts itself: a throwaway cluster (tests/pg/cluster.sh) on a
# loopback port, as an unprivileged user, in a directory of its own per build tree.
file(GLOB PG_INITDB /usr/lib/postgresql/*/bin/initdb)
if(NOT PQ_FOUND OR NOT PG_INITDB)
  message(STATUS "PostgreSQL tests: off (needs libpq-dev and postgresql)")
  return()
endif()

string(MD5 PG_TAG "${CMAKE_BINARY_DIR}")
string(SUBSTRING "${PG_TAG}" 0 12 PG_TAG)
set(PG_DIR /tmp/nyx-pg-${PG_TAG})
set(PG_ENV "NYX_TEST_PG=${PG_DIR}/uri")

add_test(NAME pg/start COMMAND bash ${CMAKE_SOURCE_DIR}/tests/pg/cluster.sh start ${PG_DIR})
set_tests_properties(pg/start PROPERTIES FIXTURES_SETUP pg TIMEOUT 120)
add_test(NAME pg/stop COMMAND bash ${CMAKE_SOURCE_DIR}/tests/pg/cluster.sh stop ${PG_DIR})
set_tests_properties(pg/stop PROPERTIES FIXTURES_CLEANUP pg TIMEOUT 60)

file(GLOB PG_C_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/pg/test_*.c)
foreach(src ${PG_C_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/engine ${CMAKE_SOURCE_DIR}/tests/c
                             ${CMAKE_SOURCE_DIR}/tests/store)
  target_link_libraries(${name} PRIVATE nyx_static)
  add_test(NAME pg/${name} COMMAND ${name})
  set_tests_properties(pg/${name} PROPERTIES TIMEOUT 300 FIXTURES_REQUIRED pg
                       ENVIRONMENT "${PG_ENV};NYX_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endforeach()

# The store's conformance suite (tests/store), as store/sqlite/... runs it, on PostgreSQL.
foreach(src ${STORE_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_test(NAME pg/store/${name} COMMAND ${name} pg)
  set_tests_properties(pg/store/${name} PROPERTIES TIMEOUT 300 FIXTURES_REQUIRED pg
                       ENVIRONMENT "${PG_ENV}")
endforeach()

foreach(spec budget_spec response_cache_spec thoughts_spec queries_spec)
  add_test(NAME pg/lua_${spec} COMMAND ${LUA54} ${BUSTED} --output=utfTerminal
           ${CMAKE_SOURCE_DIR}/tests/lua/${spec}.lua WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
  set_tests_properties(pg/lua_${spec} PROPERTIES ENVIRONMENT "${LUA_SPEC_ENV};${PG_ENV}"
                       TIMEOUT 300 FIXTURES_REQUIRED pg)
endforeach()

# Cases that only PostgreSQL has (a database that holds its locks while the loop goes on).
file(GLOB PG_SPECS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/pg/*_spec.lua)
foreach(spec ${PG_SPECS})
  get_filename_component(name ${spec} NAME_WE)
  add_test(NAME pg/lua_${name} COMMAND ${LUA54} ${BUSTED} --output=utfTerminal ${spec}
           WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
  set_tests_properties(pg/lua_${name} PROPERTIES ENVIRONMENT "${LUA_SPEC_ENV};${PG_ENV}"
                       TIMEOUT 300 FIXTURES_REQUIRED pg)
endforeach()

file(GLOB PG_E2E CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/pg/*.sh)
list(FILTER PG_E2E EXCLUDE REGEX "(cluster|lib)\\.sh$")
foreach(script ${PG_E2E})
  get_filename_component(name ${script} NAME_WE)
  add_test(NAME pg/e2e_${name} COMMAND bash ${script} WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
  set_tests_properties(pg/e2e_${name} PROPERTIES ENVIRONMENT "${NYX_TEST_ENV};${PG_ENV}"
                       TIMEOUT 300 FIXTURES_REQUIRED pg)
endforeach()
