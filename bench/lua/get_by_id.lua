-- GET one product by a random id.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
  seed_random()
  headers = auth_headers()
end

request = function()
  return wrk.format("GET", "/api/v1/products/" .. math.random(1, max_id), headers)
end
