-- inspect() never reports a TLS 1.3 ticket's age_add (issue 8, finding 5):
-- RFC 8446 4.6.1 uses it to hide the ticket's age from observers.  The C
-- struct keeps it; no binding's table shows it.
local S = require "support"
local backends = require "backends"

for _, b in ipairs(backends) do
    describe("inspect (" .. b.name .. ")", function()
        it("regression: leaves out ticket_age_add", function()
            local f = assert(io.open(S.vectors
                .. "/sessions/openssl-tls13-rsa.der", "rb"))
            local der = f:read("*a")
            f:close()
            local info = assert(b.M.inspect(der))
            assert.is_true(info.has_ticket)
            assert.is_nil(info.ticket_age_add)
            assert.is_nil(info.has_ticket_age_add)
        end)
    end)
end
