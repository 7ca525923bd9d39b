-- wrk script: every request carries the next token of TOKENS_FILE (one per
-- line) to BENCH_PATH (default /fresh/f.txt). With more tokens than the
-- module's verified-token cache holds (spa_auth_cache_size, 4096 by
-- default), cycling through them in order makes every request a cache miss
-- (LRU: a token is evicted long before its turn comes again), so every
-- request is a signature check.
local tokens = {}
local i = 0
local path = os.getenv("BENCH_PATH") or "/fresh/f.txt"

function init(args)
  local f = assert(io.open(os.getenv("TOKENS_FILE"), "r"))
  for line in f:lines() do tokens[#tokens + 1] = line end
  f:close()
  math.randomseed(os.time())
  i = math.random(#tokens)  -- each run starts somewhere else in the list
end

function request()
  i = i + 1
  if i > #tokens then i = 1 end
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. tokens[i] })
end
