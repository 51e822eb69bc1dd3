-- POST the login form with the right password (a bcrypt check per request).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
  body = "username=" .. os.getenv("BENCH_USERNAME") .. "&password=" .. os.getenv("BENCH_PASSWORD")
  headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
end

request = function()
  return wrk.format("POST", "/api/v1/auth/login", headers, body)
end
