-- wrk script: every request carries a token the server has not seen yet
-- (read from TOKENS_FILE, one per line), so every request is a cache miss.
local tokens = {}
local i = 0

function init(args)
  local f = assert(io.open(os.getenv("TOKENS_FILE"), "r"))
  for line in f:lines() do tokens[#tokens + 1] = line end
  f:close()
end

function request()
  i = i + 1
  if i > #tokens then i = 1 end
  return wrk.format("GET", "/fresh/f.txt", { ["Authorization"] = "Bearer " .. tokens[i] })
end
