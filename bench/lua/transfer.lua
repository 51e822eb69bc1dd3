-- Move 1-3 units of a random product between the two seeded locations, in a random direction,
-- so transfers in opposite directions meet on the same products. A 409 (the source lacks the
-- units) is an expected answer and is counted apart from errors.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
  seed_random()
  headers = auth_headers("application/json")
end

request = function()
  local from, to = 1, 2
  if math.random() < 0.5 then from, to = 2, 1 end
  local body = string.format(
    '{"product_id":%d,"from_location_id":%d,"to_location_id":%d,"quantity":%d,' ..
    '"reason":"bench"}',
    math.random(1, max_id), from, to, math.random(1, 3))
  return wrk.format("POST", "/api/v1/stock-transfers", headers, body)
end

response = count_conflicts
