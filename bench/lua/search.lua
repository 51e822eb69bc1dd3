-- GET a search: a series word (shared by ~100 products whatever the size) in its category.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
  seed_random()
  headers = auth_headers()
  paths = {}
  for line in io.lines(os.getenv("BENCH_SEARCH_TERMS")) do
    local word, category = line:match("^(%S+)\t(%d+)$")
    if word then
      table.insert(paths, "/api/v1/products?limit=50&q=" .. word .. "&category_id=" .. category)
    end
  end
end

request = function()
  return wrk.format("GET", paths[math.random(1, #paths)], headers)
end
