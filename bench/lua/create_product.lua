-- POST a new product in a random category.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
  seed_random()
  headers = auth_headers("application/json")
  counter = 0
end

request = function()
  counter = counter + 1
  local body = string.format(
    '{"name":"Bench product %d-%d","description":"Made by the load test.",' ..
    '"price":"%d.%02d","stock_quantity":%d,"category_ids":[%d]}',
    thread_number, counter, math.random(1, 999), math.random(0, 99),
    math.random(20, 500), math.random(1, 100))
  return wrk.format("POST", "/api/v1/products", headers, body)
end
