-- POST a small stock change (+-1..3) to a random product; a 409 (not enough stock) is an
-- expected answer and is counted apart from errors.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
  seed_random()
  headers = auth_headers("application/json")
end

request = function()
  local delta = math.random(1, 3)
  if math.random() < 0.5 then delta = -delta end
  local body = '{"delta":' .. delta .. ',"reason":"bench"}'
  return wrk.format("POST", "/api/v1/products/" .. math.random(1, max_id) .. "/stock", headers, body)
end

response = count_conflicts
