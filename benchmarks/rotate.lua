-- wrk script: send the requests listed in a file, in turn, over and over.
-- Usage: wrk ... -s rotate.lua http://127.0.0.1:PORT -- requests.txt
-- One request per line: "METHOD PATH" or "METHOD PATH JSON-BODY" (end_to_end.py writes the file from
-- bench_app.request_mix(), so wrk and the in-process test send the same 40 requests).

local requests = {}
local next_index = 0

function init(args)
  local file = assert(io.open(args[1], "r"))
  for line in file:lines() do
    local method, path, body = line:match("^(%S+)%s+(%S+)%s?(.*)$")
    if method then
      local headers = {}
      if body == "" then
        body = nil
      else
        headers["Content-Type"] = "application/json"
      end
      requests[#requests + 1] = wrk.format(method, path, headers, body)
    end
  end
  file:close()
  assert(#requests > 0, "no requests in " .. args[1])
end

function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end
