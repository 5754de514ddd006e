-- serialize / deserialize / inspect over the shared vectors, in every
-- backend (the C module; under LuaJIT also the FFI binding).
local S = require "support"
local backends = require "backends"

local manifest = S.manifest()

local function hexlower(s)
    return s and s:lower()
end

local function num(s)
    return tonumber(s)
end

local function session_rows(expect_ok)
    local out = {}
    for _, row in ipairs(manifest) do
        if (row.format == "DER" or row.format == "PEM")
            and row.expect ~= "ANY"
            and ((row.expect == "OK") == expect_ok) then
            out[#out + 1] = row
        end
    end
    return out
end

for _, b in ipairs(backends) do
    local T = b.M

    describe("sessions (" .. b.name .. ")", function()
        it("has the error codes", function()
            assert.are.equal(0, T.codes.OK)
            assert.are.equal(-14, T.codes.EMAC)
            assert.are.equal("TLSR_EMAC", T.error_name(-14))
            assert.are.equal("TLSR_E?", T.error_name(-999))
        end)

        for _, row in ipairs(session_rows(true)) do
            it("reads vector " .. row.name .. " with the manifest's fields",
               function()
                local bytes = S.read(S.vectors .. "/" .. row.file)
                local sess, err, code = T.deserialize(bytes)
                assert.is_not_nil(sess, err)
                assert.is_nil(code)
                local info = assert(T.inspect(sess))
                assert.are.equal(num(row.protocol), info.protocol_version)
                assert.are.equal(row.protocol_name, info.protocol_name)
                assert.are.equal(num(row.cipher_id), info.cipher_id)
                assert.are.equal(row.cipher_name, info.cipher_name)
                assert.are.equal(row.cipher_rfc_name, info.cipher_rfc_name)
                assert.are.equal(hexlower(row.session_id), info.session_id)
                assert.are.equal(num(row.time), info.time)
                assert.are.equal(num(row.timeout), info.timeout)
                assert.are.equal(row.has_ticket == "1", info.has_ticket)
                assert.are.equal(num(row.ticket_len), info.ticket_len)
                assert.are.equal(row.alpn == "-" and "" or row.alpn, info.alpn)
                assert.are.equal(row.sni == "-" and "" or row.sni, info.sni)
                assert.are.equal(row.has_peer == "1", info.has_peer)
                if info.has_peer then
                    assert.are.equal(hexlower(row.peer_sha256),
                                     info.peer_sha256)
                end
                assert.are.equal(num(row.verify_result), info.verify_result)
                assert.are.equal(row.extended_master_secret == "1",
                                 info.extended_master_secret)
                assert.are.equal(num(row.master_key_len), info.master_key_len)
                -- inspect(bytes) gives the same table as inspect(sess).
                assert.are.same(info, T.inspect(bytes))
                -- Round trip: the same bytes out as in.
                if row.roundtrip == "1" then
                    local fmt = row.format == "DER" and "der" or "pem"
                    assert.are.equal(bytes, T.serialize(sess, fmt))
                end
                -- and the ticket bytes are the ones inspect counted.
                assert.are.equal(info.ticket_len, #T.ticket(sess))
            end)
        end

        for _, row in ipairs(session_rows(false)) do
            it("gives nil, err, code for malformed " .. row.name, function()
                local bytes = S.read(S.vectors .. "/" .. row.file)
                local want = T.codes[row.expect:sub(6)]
                assert.is_number(want)
                local sess, err, code = T.deserialize(bytes)
                assert.is_nil(sess)
                assert.is_string(err)
                assert.are.equal(want, code, err)
                local info, err2, code2 = T.inspect(bytes)
                assert.is_nil(info)
                assert.is_string(err2)
                assert.are.equal(want, code2)
            end)
        end

        it("survives the regression vectors (expect ANY)", function()
            for _, row in ipairs(manifest) do
                if row.expect == "ANY" then
                    local bytes = S.read(S.vectors .. "/" .. row.file)
                    local sess, err, code = T.deserialize(bytes)
                    if sess then
                        local v, e, c = T.inspect(sess)
                        assert.is_true(v ~= nil or (type(e) == "string"
                                                    and c < 0), row.name)
                    else
                        assert.is_string(err)
                        assert.is_true(code < 0, row.name)
                    end
                end
            end
        end)

        it("serializes DER and PEM that read back the same", function()
            local bytes = S.read(S.vectors
                                 .. "/sessions/openssl-tls13-ec.der")
            local sess = assert(T.deserialize(bytes))
            local der = assert(T.serialize(sess))
            local pem = assert(T.serialize(sess, "pem"))
            assert.are.equal(der, T.serialize(sess, "der"))
            assert.truthy(pem:find("^%-%-%-%-%-BEGIN SSL SESSION PARAMETERS"))
            assert.are.same(T.inspect(der), T.inspect(pem))
            local lean = assert(T.serialize(sess, "der", true))
            assert.is_true(#lean < #der)
            assert.is_false(T.inspect(lean).has_peer)
        end)

        it("sets the session-id context (CPython <= 3.12 style)", function()
            local sess = assert(T.deserialize(S.read(S.vectors
                .. "/sessions/openssl-tls12-sid-ec.der")))
            assert.is_true(T.set_id_context(sess, "Python\0"))
            assert.are.equal("Python\0", T.inspect(sess).sid_ctx)
            local ok, err, code = T.set_id_context(sess, ("x"):rep(33))
            assert.is_nil(ok)
            assert.is_string(err)
            assert.are.equal(T.codes.EINVAL, code)
        end)

        it("chains pass the first error on: f(nil, msg, code) returns it",
           function()
            local msg = "no ticket received: read from the connection first"
            local function three(...)
                return select("#", ...), ...
            end
            local n, ok, err, code = three(T.serialize(nil, msg, -22))
            assert.are.same({ 3, nil, msg, -22 }, { n, ok, err, code })
            n, ok, err, code = three(T.save("/nonexistent/x.pem", nil, msg,
                                            -22))
            assert.are.same({ 3, nil, msg, -22 }, { n, ok, err, code })
            -- without a code (e.g. sock:sslhandshake's nil, err)
            n, ok, err = three(T.save("/nonexistent/x.pem", nil, msg))
            assert.are.same({ 3, nil, msg }, { n, ok, err })
            ok, err = T.inspect(nil, msg)
            assert.is_nil(ok)
            assert.are.equal(msg, err)
            -- load's error through deserialize-taking calls
            ok, err, code = T.save("/nonexistent/x.pem",
                                   T.load("/nonexistent/in.pem"))
            assert.is_nil(ok)
            assert.truthy(err:find("in.pem", 1, true), err)
            assert.are.equal(T.codes.EIO, code)
            -- a format name is an argument, not a message: still misuse
            assert.has_error(function() T.serialize(nil, "pem") end)
            assert.has_error(function() T.save("/nonexistent/x", nil, "der") end)
            assert.has_error(function() T.save("/nonexistent/x", nil) end)
        end)

        it("raises on misuse (wrong argument types)", function()
            assert.has_error(function() T.deserialize(nil) end)
            assert.has_error(function() T.deserialize({}) end)
            assert.has_error(function() T.serialize("bytes") end)
            assert.has_error(function() T.serialize(nil) end)
            assert.has_error(function() T.inspect(nil) end)
            assert.has_error(function() T.inspect(42) end)
            local sess = assert(T.deserialize(S.read(S.vectors
                .. "/sessions/openssl-tls13-ec.der")))
            assert.has_error(function() T.serialize(sess, "xml") end)
            if b.kind == "ffi" then
                local ffi = require "ffi"
                -- cdata that is not a session pointer is refused, not cast
                assert.has_error(function() T.serialize(ffi.new("int", 5)) end)
                assert.has_error(function()
                    T.inspect(ffi.new("char[8]"))
                end)
                assert.has_error(function()
                    T.serialize(ffi.cast("void *", nil))
                end)
            end
            assert.has_error(function() T.set_id_context(sess, nil) end)
        end)

        it("raises on a now that is not a time (NaN, huge, negative)",
           function()
            local bytes = S.read(S.vectors .. "/sessions/openssl-tls13-ec.der")
            local sess = assert(T.deserialize(bytes))
            for _, bad in ipairs({ 0 / 0, 1 / 0, 1e300, -1 }) do
                assert.has_error(function() T.inspect(sess, bad) end)
                assert.has_error(function() T.inspect(bytes, bad) end)
            end
            assert.are.equal(0, T.inspect(sess, 4e9).remaining)
        end)

        it("never crashes on mangled bytes (truncations, flips, noise)",
           function()
            local good = S.read(S.vectors .. "/sessions/openssl-tls13-ec.der")
            math.randomseed(1234)
            local function check(bytes)
                local sess, err, code = T.deserialize(bytes)
                if sess then
                    -- inspect/serialize may refuse what parse let through,
                    -- but only with nil, err, code.
                    for _, f in ipairs({ T.inspect, T.serialize }) do
                        local v, e, c = f(sess)
                        if v == nil then
                            assert.is_string(e)
                            assert.is_true(c < 0)
                        end
                    end
                else
                    assert.is_string(err)
                    assert.is_true(code < 0)
                end
            end
            for n = 0, #good - 1, 7 do
                check(good:sub(1, n))
            end
            for _ = 1, 400 do
                local i = math.random(1, #good)
                local c = string.char((good:byte(i) + math.random(1, 255)) % 256)
                check(good:sub(1, i - 1) .. c .. good:sub(i + 1))
            end
            for _ = 1, 200 do
                local t = {}
                for j = 1, math.random(0, 300) do
                    t[j] = string.char(math.random(0, 255))
                end
                check(table.concat(t))
                check("0\130" .. table.concat(t))
            end
            check(("A"):rep(70000))
        end)
    end)
end

if jit then
    describe("session cdata (FFI)", function()
        local T = require "resty.tlsresume"
        local bytes = S.read(S.vectors .. "/sessions/openssl-tls13-ec.der")

        it("free() twice is a no-op and later use raises (no double free)",
           function()
            local sess = assert(T.deserialize(bytes))
            T.free(sess)
            T.free(sess)
            assert.has_error(function() T.serialize(sess) end)
            assert.has_error(function() T.inspect(sess) end)
            assert.has_error(function() T.ticket(sess) end)
            collectgarbage()
            collectgarbage()
            -- other sessions are unaffected
            assert.truthy(T.serialize(assert(T.deserialize(bytes))))
        end)
    end)
end

describe("session userdata (C module)", function()
    local T = require "tlsresume"
    local bytes = S.read(S.vectors .. "/sessions/openssl-tls13-ec.der")

    it("has a __tostring without secrets", function()
        local sess = assert(T.deserialize(bytes))
        local info = T.inspect(sess)
        local s = tostring(sess)
        assert.truthy(s:find("TLSv1.3", 1, true))
        assert.falsy(s:lower():find(info.session_id:sub(1, 8), 1, true))
        assert.falsy(s:find(T.ticket(sess):sub(1, 8), 1, true))
    end)

    it("close frees and NULLs; later use raises, close again is fine",
       function()
        local sess = assert(T.deserialize(bytes))
        sess:close()
        assert.truthy(tostring(sess):find("closed"))
        assert.has_error(function() T.serialize(sess) end)
        assert.has_error(function() sess:inspect() end)
        sess:close()
    end)

    it("has methods", function()
        local sess = assert(T.deserialize(bytes))
        assert.are.equal(T.serialize(sess, "pem"), sess:serialize("pem"))
        assert.are.same(T.inspect(sess), sess:inspect())
    end)

    if _VERSION == "Lua 5.4" and not jit then
        it("supports to-be-closed variables (__close)", function()
            local chunk = assert(load([[
                local T, bytes = ...
                local kept
                do
                    local sess <close> = assert(T.deserialize(bytes))
                    kept = sess
                end
                return kept
            ]]))
            local kept = chunk(T, bytes)
            assert.truthy(tostring(kept):find("closed"))
        end)
    end
end)
