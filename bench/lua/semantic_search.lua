-- GET a search by meaning: a shopper's phrase, ranked over the whole catalogue (no filter).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local phrases = {
  "something+to+water+the+garden", "a+warm+thing+for+cold+nights", "somewhere+to+sit",
  "keep+my+drinks+hot", "tools+for+fixing+the+shed", "light+for+reading+in+bed",
  "carry+my+things+on+a+hike", "clean+the+kitchen+floor", "a+present+for+a+gardener",
  "store+books+and+files", "tell+the+time", "protect+my+hands+outdoors",
  "sturdy+steel+tools", "soft+cotton+for+the+bathroom", "bamboo+furniture",
  "something+to+put+flowers+in", "gear+for+camping", "keep+feet+dry+in+the+rain",
}

function init(args)
  seed_random()
  headers = auth_headers()
end

request = function()
  local q = phrases[math.random(1, #phrases)]
  return wrk.format("GET", "/api/v1/products?limit=50&search=semantic&q=" .. q, headers)
end
