-- The hook calls of `scripts/load.py --driver wrk`, for one replica: every example request
-- in turn, each with a new hookInstance (a random UUID v4 whose last digits hold the
-- replica, the wrk thread and a counter, so no two calls of a run share one).
--
--   wrk ... -s scripts/load.lua http://127.0.0.1:PORT -- CALLS_FILE REPLICA SEED
--
-- CALLS_FILE, written by load.py: one call a line, "path<TAB>before<TAB>after", the body
-- being before .. hookInstance .. after (compact JSON holds no raw tab or newline).
-- Every answer outside 200-299 is counted; done() prints "non-2xx responses: N".

local threads = {}
local started = 0

function setup(thread)
  started = started + 1
  thread:set("thread_number", started)
  table.insert(threads, thread)
end

function init(args)
  if #args < 3 then
    error("load.lua: wrk -s load.lua URL -- CALLS_FILE REPLICA SEED")
  end
  local file = assert(io.open(args[1], "r"))
  calls = {}
  for line in file:lines() do
    local path, before, after = line:match("^(/[^\t]*)\t([^\t]*)\t([^\t]*)$")
    if path == nil then
      error("load.lua: a line of " .. args[1] .. " is not path<TAB>before<TAB>after")
    end
    calls[#calls + 1] = { path, before, after }
  end
  file:close()
  if #calls == 0 then
    error("load.lua: " .. args[1] .. " holds no call")
  end
  replica = tonumber(args[2]) % 256
  math.randomseed(tonumber(args[3]) + 7919 * thread_number + 104729 * replica)
  turn = 0
  sent = 0
  non2xx = 0
  json_headers = { ["Content-Type"] = "application/json" }
end

local function hook_instance()
  sent = sent + 1
  return string.format(
    "%04x%04x-%04x-4%03x-%04x-%02x%02x%08x",
    math.random(0, 0xffff), math.random(0, 0xffff), math.random(0, 0xffff),
    math.random(0, 0xfff), 0x8000 + math.random(0, 0x3fff),
    replica, thread_number % 256, sent % 0x7fffffff
  )
end

function request()
  turn = turn % #calls + 1
  local call = calls[turn]
  return wrk.format("POST", call[1], json_headers, call[2] .. hook_instance() .. call[3])
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + (thread:get("non2xx") or 0)
  end
  io.write(string.format("non-2xx responses: %d\n", total))
end
