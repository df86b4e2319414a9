-- wrk script: send the request described by WRK_METHOD (default POST) with the body in the
-- file named by WRK_BODY (JSON), so every request is identical and costs the client nothing.
local path = os.getenv("WRK_BODY")
wrk.method = os.getenv("WRK_METHOD") or "POST"
if path and path ~= "" then
  local f = assert(io.open(path, "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = "application/json"
end
