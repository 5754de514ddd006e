-- Copy into your busted suite to check that your server (or each backend
-- of a pool) resumes TLS sessions:
--   MY_SERVER=www.example.org:443 busted examples/probe_spec.lua
--   MY_SERVER=lb.internal:443 MY_IPS=10.0.0.1,10.0.0.2 busted ...
-- Needs the tlsresume rock (Lua 5.4 or LuaJIT C module).
local tb = require "tlsresume.busted"   -- registers assert.resumes

local target = os.getenv("MY_SERVER")
local ips = {}
for ip in (os.getenv("MY_IPS") or ""):gmatch("[^,]+") do
    ips[#ips + 1] = ip
end

describe("my server", function()
    if target then
        local host, port = target:match("^(.*):(%d+)$")
        for _, tls in ipairs({ "1.2", "1.3" }) do
            it("resumes TLS " .. tls .. " on every address", function()
                assert.resumes(host, tonumber(port), {
                    tls = tls, ips = #ips > 0 and ips or nil,
                    cafile = os.getenv("MY_CAFILE"),
                    mechanisms = { tls == "1.2" and "ticket_tls12"
                                   or "tls13" },
                })
            end)
        end
    end

    it("a local s_server resumes (template for a config under test)",
       function()
        local srv = tb.server({ tls = "1.3" })
        finally(srv.stop)
        assert.resumes(srv.host, srv.port, { cafile = srv.cafile })
    end)
end)
