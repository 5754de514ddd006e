-- Server tickets from the shared vectors: every good ticket decrypts to a
-- session, every malformed ticket or key gives nil, err, code with the
-- manifest's code, in every backend.
local S = require "support"
local backends = require "backends"

local formats = { OPENSSL80 = "openssl80", NGINX48 = "nginx48",
                  NODE48 = "node48" }

for _, b in ipairs(backends) do
    local T = b.M

    describe("tickets (" .. b.name .. ")", function()
        for _, row in ipairs(S.manifest()) do
            if row.format == "TICKET" or row.format == "KEYS" then
                local what = row.expect == "OK" and "decrypts "
                    or "gives nil, err, " .. row.expect .. " for "
                it(what .. row.name, function()
                    local ticket = row.format == "TICKET"
                        and S.read(S.vectors .. "/" .. row.file)
                        or ("\0"):rep(80)
                    local key = S.read(S.vectors .. "/" .. row.key_file)
                    local fmt = assert(formats[row.key_format])
                    local sess, err, code = T.ticket_decrypt(ticket, key, fmt)
                    if row.expect == "OK" then
                        assert.is_not_nil(sess, err)
                        local info = assert(T.inspect(sess))
                        assert.is_true(info.master_key_len > 0)
                        assert.is_table(T.ticket_parse(ticket))
                    else
                        assert.is_nil(sess)
                        assert.is_string(err)
                        assert.are.equal(T.codes[row.expect:sub(6)], code,
                                         err)
                    end
                end)
            end
        end

        it("tries every key of a rotation", function()
            local key = S.read(S.vectors .. "/keys/nginx80.key")
            local ticket = S.read(S.vectors
                                  .. "/tickets/nginx80-tls12-rsa.ticket")
            local other = assert(S.read(S.vectors
                                        .. "/keys/nginx48.key")):rep(2)
                :sub(1, 80)
            assert.is_not_nil(T.ticket_decrypt(ticket, { other, key },
                                               "openssl80"))
            local s, _, code = T.ticket_decrypt(ticket, { other },
                                                "openssl80")
            assert.is_nil(s)
            assert.are.equal(T.codes.EKEYNAME, code)
        end)

        it("raises on misuse", function()
            assert.has_error(function() T.ticket_decrypt(nil, "k", "nginx48") end)
            assert.has_error(function() T.ticket_decrypt("t", 1, "nginx48") end)
            assert.has_error(function() T.ticket_decrypt("t", "k", "rot13") end)
            assert.has_error(function() T.ticket_parse(nil) end)
        end)
    end)
end
