-- GET the first page of the catalogue, newest first.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
  headers = auth_headers()
  path = "/api/v1/products?limit=50&sort=-created_at"
end

request = function()
  return wrk.format("GET", path, headers)
end
