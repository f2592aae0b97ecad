-- wrk script: POST one pre-generated push per request, streamed line by line from a file
-- (written by the bench_pushes example: "PATH?QUERY<TAB>BODY" a line), so every request
-- carries a unique MsgId and wrk's memory stays flat however long the run.
--
--   wrk -t1 -c32 -d30s --latency -s bench/pushes.lua http://127.0.0.1:18080 -- FILE
--
-- One wrk thread only: each thread would read the same file from the top and send duplicates.
-- If the file runs out, the thread stops early and done() reports it (the run is then invalid:
-- generate more pushes).

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   if #threads > 1 then
      error("pushes.lua needs wrk -t1 (every thread would resend the same pushes)")
   end
end

local file
local sent = 0
local headers = { ["Content-Type"] = "text/xml" }

function init(args)
   local path = args[1]
   if path == nil then
      error("usage: wrk ... -s bench/pushes.lua URL -- PUSHES_FILE")
   end
   file = assert(io.open(path, "r"))
   exhausted = 0
end

local last

function request()
   local line = file:read("*l")
   if line == nil then
      -- Out of unique pushes: stop rather than resend one (that would hit the dedup cache).
      exhausted = 1
      wrk.thread:stop()
      return last
   end
   sent = sent + 1
   local tab = line:find("\t", 1, true)
   last = wrk.format("POST", line:sub(1, tab - 1), headers, line:sub(tab + 1))
   return last
end

function done(summary, latency, requests)
   for _, thread in ipairs(threads) do
      if thread:get("exhausted") == 1 then
         io.stderr:write("pushes.lua: the pushes file ran out before the end of the run; " ..
                         "the numbers are invalid, generate more pushes\n")
         io.write("PUSHES_EXHAUSTED\n")
      end
   end
end
