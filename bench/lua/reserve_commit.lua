-- A cart checks out: reserve 1-3 units of a random product (default location), then commit
-- the reservation (the order shipped). Each reservation's commit is the thread's next request.
-- A 409 (not enough available) is an expected answer and is counted apart from errors.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
  seed_random()
  headers = auth_headers("application/json")
  to_commit = {}
end

request = function()
  local id = table.remove(to_commit)
  if id then
    return wrk.format("POST", "/api/v1/reservations/" .. id .. "/commit", headers, "")
  end
  local body = string.format(
    '{"items":[{"product_id":%d,"quantity":%d}],"reference":"bench-cart"}',
    math.random(1, max_id), math.random(1, 3))
  return wrk.format("POST", "/api/v1/reservations", headers, body)
end

response = function(status, response_headers, body)
  if status == 201 then
    local id = string.match(body, '"id":(%d+)')
    if id then table.insert(to_commit, id) end
  end
  count_conflicts(status, response_headers, body)
end
