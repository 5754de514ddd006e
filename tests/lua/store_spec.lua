-- The core's on-disk store through every backend (C module; FFI under
-- LuaJIT), with fresh sessions from real s_servers (LuaSec clients), and a
-- stored session resuming for real.
local S = require "support"
local backends = require "backends"
local C = require "tlsresume"
-- These sessions come from unverified handshakes: the FFI stores hand them
-- only to lookups that say they will not verify (the trust rule).
local NV = { verify = false }

describe("store", function()
    local dir, srv12, srv13
    local der12, der13 = nil, {}

    setup(function()
        dir = S.tmpdir()
        srv12 = S.s_server(dir, "1.2")
        srv13 = S.s_server(dir, "1.3")
        der12 = S.fresh_session(srv12.port, "1.2")
        for i = 1, 3 do
            der13[i] = S.fresh_session(srv13.port, "1.3")
        end
    end)

    teardown(function()
        if srv12 then srv12.stop() end
        if srv13 then srv13.stop() end
        S.rmdir(dir)
    end)

    local n = 0
    local function newdir()
        n = n + 1
        local d = dir .. "/store" .. n
        assert(S.run("mkdir -m 700 " .. S.sh_quote(d)))
        return d
    end

    for _, b in ipairs(backends) do
        local T = b.M
        local function id(sess)
            return T.inspect(sess).session_id
        end

        describe("(" .. b.name .. ")", function()
            it("TLS 1.3 tickets: newest first, each taken once, bounded",
               function()
                local st = assert(T.store(newdir(), { max_tickets = 2 }))
                local ids = {}
                for i = 1, 3 do
                    local s = assert(T.deserialize(der13[i]))
                    ids[i] = id(s)
                    assert.is_true(st:put("127.0.0.1", 443, s))
                end
                assert.are.equal(2, st:count())
                assert.are.equal(ids[3], id(assert(st:get("127.0.0.1", 443, nil, NV))))
                assert.are.equal(ids[3], id(assert(st:take("127.0.0.1", 443, nil, NV))))
                assert.are.equal(ids[2], id(assert(st:take("127.0.0.1", 443, nil, NV))))
                local s, err, code = st:take("127.0.0.1", 443, nil, NV)
                assert.is_nil(s)
                assert.is_string(err)
                assert.are.equal(T.codes.ENOTFOUND, code)
                st:close()
            end)

            it("TLS 1.2: take leaves the session for reuse", function()
                local st = assert(T.store(newdir()))
                local s = assert(T.deserialize(der12))
                assert.is_true(st:put("127.0.0.1", 443, s))
                assert.are.equal(id(s), id(assert(st:take("127.0.0.1", 443, nil, NV))))
                assert.are.equal(id(s), id(assert(st:take("127.0.0.1", 443, nil, NV))))
                assert.are.equal(1, st:count())
            end)

            it("keys by host, port and scope; remove, prune, entries",
               function()
                local st = assert(T.store(newdir()))
                local s = assert(T.deserialize(der12))
                assert.is_true(st:put("a.example", 443, s, "ctx1"))
                assert.is_nil((st:get("a.example", 443, nil, NV)))
                assert.is_nil((st:get("a.example", 8443, "ctx1", NV)))
                assert.is_nil((st:get("b.example", 443, "ctx1", NV)))
                assert.is_not_nil((st:get("a.example", 443, "ctx1", NV)))
                local entries = assert(st:entries())
                assert.are.equal(1, #entries)
                assert.are.equal("a.example", entries[1].host)
                assert.are.equal(443, entries[1].port)
                assert.are.equal("ctx1", entries[1].scope)
                assert.is_nil(entries[1].context) -- renamed: scope
                assert.are.equal("TLSv1.2", entries[1].info.protocol_name)
                assert.is_true(st:prune() >= 0)
                assert.are.equal(1, st:remove("a.example", 443, "ctx1"))
                assert.are.equal(0, st:count())
            end)

            it("regression: a NUL in a store host or scope is refused, "
               .. "never cut (issue 8 finding 5)", function()
                local st = assert(T.store(newdir()))
                local s = assert(T.deserialize(der12))
                for _, call in ipairs({
                    function() return st:put("victim.example\0evil", 443, s) end,
                    function() return st:put("victim.example", 443, s, "a\0b") end,
                    function() return st:get("victim.example\0evil", 443) end,
                    function() return st:take("victim.example\0", 443) end,
                    function() return st:remove("victim.example\0x", 443) end,
                    function() return st:get("victim.example", 443, "\0") end,
                }) do
                    local ok, err, code = call()
                    assert.is_nil(ok)
                    assert.truthy(err:find("NUL", 1, true), err)
                    assert.are.equal(T.codes.EINVAL, code)
                end
                assert.are.equal(0, st:count())
                local got, _, code = st:get("victim.example", 443, nil, NV)
                assert.is_nil(got)
                assert.are.equal(T.codes.ENOTFOUND, code)
                st:close()
            end)

            it("sealed entries do not open under another key", function()
                local d = newdir()
                local key_a, key_b = ("a"):rep(32), ("b"):rep(32)
                local st = assert(T.store(d, { seal_key = key_a }))
                assert.is_true(st:put("h", 1, assert(T.deserialize(der12))))
                assert.is_true(st:entries()[1].sealed)
                st:close()
                local other = assert(T.store(d, { seal_key = key_b }))
                local s, err, code = other:get("h", 1, nil, NV)
                assert.is_nil(s)
                assert.is_string(err)
                assert.is_true(code < 0)
                other:close()
                local again = assert(T.store(d, { seal_key = key_a }))
                assert.is_not_nil((again:get("h", 1, nil, NV)))
                local bad, _, bcode = T.store(d, { seal_key = "short" })
                assert.is_nil(bad)
                assert.are.equal(T.codes.EKEY, bcode)
            end)

            it("refuses a group/world-writable directory", function()
                local d = newdir()
                assert(S.run("chmod 777 " .. S.sh_quote(d)))
                local st, err, code = T.store(d)
                assert.is_nil(st)
                assert.is_string(err)
                assert.are.equal(T.codes.EPERM, code)
            end)

            it("raises on misuse", function()
                local st = assert(T.store(newdir()))
                assert.has_error(function() st:put("h", 1, "not a session") end)
                assert.has_error(function() st:get(nil, 1) end)
                assert.has_error(function() st:get("h", "443") end)
                assert.has_error(function() st:get("h", 70000) end)
                assert.has_error(function() T.store(nil) end)
                st:close()
                assert.has_error(function() st:count() end)
                st:close() -- twice is fine
            end)
        end)
    end

    if jit then
        it("C module and FFI binding share one store", function()
            local R = require "resty.tlsresume"
            local d = newdir()
            local a = assert(C.store(d))
            assert.is_true(a:put("h", 2, assert(C.deserialize(der13[1]))))
            local b = assert(R.store(d))
            local got = assert(b:take("h", 2, nil, NV))
            assert.are.equal(C.inspect(der13[1]).session_id,
                             R.inspect(got).session_id)
            assert.is_nil((a:take("h", 2, nil, NV))) -- taken once, across bindings
        end)
    end

    for _, v in ipairs({ "1.2", "1.3" }) do
        it("a session taken from the store resumes (TLS " .. v .. ")",
           function()
            local srv = v == "1.3" and srv13 or srv12
            local st = assert(C.store(newdir()))
            local verdict, sess = S.luasec_connect(srv.port, v)
            assert.are.equal("New", verdict)
            assert.is_true(st:put("127.0.0.1", srv.port, sess))
            local back = assert(st:take("127.0.0.1", srv.port, nil, NV))
            local verdict2 = S.luasec_connect(srv.port, v, back)
            assert.are.equal("Reused", verdict2)
        end)
    end
end)
