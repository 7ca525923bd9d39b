-- wrk script: each request names one of 100,000 client keys in X-Key, in
-- turn, against BENCH_PATH; the limited location keys its zone by it.
local i = 0
local path = os.getenv("BENCH_PATH") or "/plain/f.txt"

function request()
  i = i + 1
  if i > 100000 then i = 1 end
  return wrk.format("GET", path, { ["X-Key"] = "client-" .. i })
end
