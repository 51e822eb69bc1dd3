-- The ceiling: a bare endpoint, no token, no database.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

request = function()
  return wrk.format("GET", "/")
end
