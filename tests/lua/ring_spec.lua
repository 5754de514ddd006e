-- Ticket key rings from Lua: init, roles, rotate, export, errors, and a
-- ticket a real server (Node, fed the ring's node48 export) issued,
-- decrypted with the ring.  C module everywhere, FFI under LuaJIT.
local S = require "support"
local backends = require "backends"

local function api(b)
    if b.kind == "ffi" then
        local R = require "resty.tlsresume.ring"
        return R.init, R.open
    end
    return b.M.ring_init, b.M.ring
end

for _, b in ipairs(backends) do
    local T = b.M
    local init, open = api(b)

    describe("ticket key rings (" .. b.name .. ")", function()
        local dir
        before_each(function() dir = S.tmpdir() end)
        after_each(function() S.rmdir(dir) end)

        it("makes a ring with an encrypting and a next key", function()
            assert.is_true(init(dir .. "/r", { period = 3600, keep = 600 }))
            local r = assert(open(dir .. "/r"))
            local keys = assert(r:keys())
            assert.are.equal(2, #keys)
            assert.are.equal("encrypt", keys[1].role)
            assert.are.equal("next", keys[2].role)
            assert.are.equal(3600, keys[2].start - keys[1].start)
            assert.are.equal(keys[2].start + 600, keys[1].expires)
            assert.are.equal(16, #keys[1].name)
            assert.is_false(r:rotate())             -- nothing due
            assert.is_true(r:rotate(true))          -- forced
            assert.are.equal(3, #r:keys())
            assert.are.equal(3, r:export("nginx80", dir .. "/ngx"))
            local k0 = S.read(dir .. "/ngx/0.key")
            assert.are.equal(80, #k0)
            local ok, mode = S.run("stat -c %a " .. dir .. "/ngx/0.key")
            assert.is_true(ok)
            assert.are.equal("600", mode:match("%d+"))
            r:close()
        end)

        it("gives nil, err, code for bad rings", function()
            local r, err, code = open(dir .. "/missing")
            assert.is_nil(r)
            assert.matches("does not exist", err)
            assert.are.equal(T.codes.ENOTFOUND, code)
            assert.is_true(init(dir .. "/r"))
            local ok, e2, c2 = init(dir .. "/r")
            assert.is_nil(ok)
            assert.matches("exists", e2)
            assert.are.equal(T.codes.EINVAL, c2)
            os.execute("chmod 777 " .. dir .. "/r")
            r, err, code = open(dir .. "/r")
            assert.is_nil(r)
            assert.matches("writable", err)
            assert.are.equal(T.codes.EPERM, code)
            os.execute("chmod 700 " .. dir .. "/r")
            r = assert(open(dir .. "/r"))
            local n, e3 = r:export("node48", dir .. "/n")
            assert.is_nil(n)
            assert.matches("AES%-256", e3)
            local s, e4, c4 = r:decrypt("short")
            assert.is_nil(s)
            assert.is_string(e4)
            assert.are.equal(T.codes.ETICKET, c4)
        end)

        it("decrypts a ticket a Node server issued with the export", function()
            assert.is_true(init(dir .. "/r", { format = "node48" }))
            local r = assert(open(dir .. "/r"))
            assert.are.equal(1, r:export("node48", dir .. "/out"))
            local log = dir .. "/node.log"
            local pid = S.spawn(table.concat({ "node",
                S.root .. "/tests/python/helpers/node_ticket_server.js",
                S.vectors .. "/certs/ec.crt", S.vectors .. "/certs/ec.key",
                dir .. "/out/node.key", "lua" }, " "), log)
            local port = tonumber(S.wait_for(log, "PORT (%d+)", 200))
            local ok, err = pcall(function()
                assert.is_number(port)
                S.s_client(port, "1.2", "-sess_out " .. dir .. "/s.pem")
                local sess = assert(T.deserialize(S.read(dir .. "/s.pem")))
                local ticket = assert(T.ticket(sess))
                assert.are.equal(r:keys()[1].name, ticket:sub(1, 16))
                local inside, e = r:decrypt(ticket)
                assert.is_not_nil(inside, e)
                assert.are.equal(0x0303, T.inspect(inside).protocol_version)
            end)
            S.kill(pid)
            assert(ok, err)
        end)
    end)
end
