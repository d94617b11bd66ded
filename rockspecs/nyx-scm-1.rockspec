-- `luarocks make rockspecs/nyx-scm-1.rockspec` builds nyx from this checkout with CMake against
-- the system's libraries (scripts/setup.sh installs them) and installs `require "nyx"`.
rockspec_format = "3.0"
package = "nyx"
version = "scm-1"
source = { url = "git+file://." }
description = {
  summary = "Run Claude from Lua: prompt caching, exact cost, budgets, retries, durable logs",
  detailed = [[
    A C engine for the Claude Messages API (native prompt caching with automatic marks, exact
    cost, budgets, retries and a circuit breaker, durable logging to SQLite or PostgreSQL) with a
    Lua 5.4 library for councils, agents and templates, and a built-in API simulator.
  ]],
}
dependencies = { "lua >= 5.4, < 5.5" }
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    CMAKE_INSTALL_PREFIX = "$(PREFIX)",
    NYX_TESTS = "OFF",
    NYX_LUA_ROCK = "ON",
    NYX_WERROR = "OFF",
    NYX_INSTALL_LMOD = "$(LUADIR)",
    NYX_INSTALL_CMOD = "$(LIBDIR)",
  },
}
