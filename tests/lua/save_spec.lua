-- save(path, sess) and load(path) against a local attacker (issue 8 finding
-- 3): as root,
-- with an unprivileged user this spec creates (and removes if it created
-- it), in a sticky world-writable directory like /tmp.  A file, FIFO,
-- symlink or hard link planted at the path is refused with EPERM and never
-- opened; a save into a FIFO runs in a child process under `timeout`, so a
-- regression fails instead of hanging.  Every backend: the C module (Lua
-- 5.4 and LuaJIT) and, under LuaJIT, the FFI binding.  Skipped unless root.
local S = require "support"
local backends = require "backends"

local ATTACKER = "tlsr-atk-lua"
local VECTOR = S.vectors .. "/sessions/nginx80-tls12-rsa.pem"

local function is_root()
    local _, out = S.run("id -u")
    return out:match("^0%s") ~= nil
end

-- Runs a shell command as the attacker; returns ok, output.
local function as_attacker(cmd)
    return S.run("runuser -u " .. ATTACKER .. " -- sh -c " .. S.sh_quote(cmd))
end

local function stat(path, fmt)
    local ok, out = S.run("stat -c " .. S.sh_quote(fmt) .. " "
                          .. S.sh_quote(path))
    return ok and out:gsub("%s+$", "") or nil
end

-- save() or load() in a fresh process of this VM under `timeout 10`: a
-- FIFO can never hang the suite.  Prints "nil <code> <msg>" or "true".
local function in_child(module, what, path)
    local script = ([[
        package.path = %q; package.cpath = %q
        local T = require(%q)
        local ok, err, code
        if %q == "save" then
            ok, err, code = T.save(%q, assert(T.load(%q)))
        else
            ok, err, code = T.load(%q)
        end
        print(ok and "true" or ("nil " .. tostring(code) .. " " .. err))
    ]]):format(package.path, package.cpath, module, what, path, VECTOR, path)
    return S.run("timeout 10 " .. S.lua .. " -e " .. S.sh_quote(script))
end

local function save_in_child(module, path)
    return in_child(module, "save", path)
end

if not is_root() then
    describe("save against a local attacker", function()
        pending("needs root (a second user is created); CI runs as root")
    end)
    return
end

describe("save against a local attacker", function()
    local dir, pub, created_user

    setup(function()
        local exists = S.run("id -u " .. ATTACKER)
        if not exists then
            assert(S.run("useradd -M -r -s /usr/sbin/nologin " .. ATTACKER))
            created_user = true
        end
        dir = S.tmpdir()
        pub = dir .. "/pub" -- like /tmp: sticky, world-writable
        assert(S.run("chmod 711 " .. S.sh_quote(dir) .. " && mkdir -m 1777 "
                     .. S.sh_quote(pub)))
    end)

    teardown(function()
        S.rmdir(dir)
        if created_user then
            S.run("userdel " .. ATTACKER)
        end
    end)

    local n = 0
    local function fresh(name)
        n = n + 1
        return pub .. "/" .. n .. "-" .. name
    end

    local function no_leftovers()
        local _, out = S.run("ls -A " .. S.sh_quote(pub))
        assert.falsy(out:find(".tmp-", 1, true), out)
    end

    for _, b in ipairs(backends) do
        local T = b.M
        local module = b.kind == "ffi" and "resty.tlsresume" or "tlsresume"
        local sess = assert(T.load(VECTOR))
        local pem = assert(T.serialize(sess, "pem"))

        describe("(" .. b.name .. ")", function()
            it("regression: save refuses a planted file (issue 8 finding 3)",
               function()
                local path = fresh("planted.pem")
                -- The attacker plants a 0666 file and keeps a read fd on it.
                assert(as_attacker("touch " .. S.sh_quote(path)
                                   .. " && chmod 666 " .. S.sh_quote(path)))
                local reader = S.spawn("runuser -u " .. ATTACKER .. " -- sh -c "
                    .. S.sh_quote("exec 3<" .. S.sh_quote(path)
                                  .. "; sleep 1; cat <&3"), path .. ".read")
                S.sleep(0.2)
                local ok, err, code = T.save(path, sess)
                assert.is_nil(ok)
                assert.are.equal(T.codes.EPERM, code)
                assert.truthy(err:find("owned by uid", 1, true), err)
                S.sleep(1.2)
                S.kill(reader)
                assert.are.equal("0 " .. ATTACKER, stat(path, "%s %U"))
                assert.are.equal("", S.read(path .. ".read"))
                no_leftovers()
            end)

            it("regression: save refuses a planted FIFO, without hanging "
               .. "(issue 8 finding 3)", function()
                local path = fresh("fifo.pem")
                assert(as_attacker("mkfifo -m 666 " .. S.sh_quote(path)))
                local t0 = os.time()
                local ran, out = save_in_child(module, path)
                assert.is_true(ran, out) -- timeout exits 124
                assert.truthy(out:match("^nil %-19 .*a FIFO"), out)
                assert.is_true(os.time() - t0 < 10)
                assert.are.equal("fifo", stat(path, "%F"))
                -- Our own FIFO is no better a target.
                local mine = fresh("own-fifo.pem")
                assert(S.run("mkfifo -m 600 " .. S.sh_quote(mine)))
                ran, out = save_in_child(module, mine)
                assert.is_true(ran, out)
                assert.truthy(out:match("^nil %-19 "), out)
                no_leftovers()
            end)

            it("regression: save refuses a planted hard link (issue 8 "
               .. "finding 3)", function()
                -- The attacker's own file under a second name...
                local theirs = fresh("theirs")
                local path = fresh("linked.pem")
                assert(as_attacker("touch " .. S.sh_quote(theirs)
                    .. " && chmod 666 " .. S.sh_quote(theirs) .. " && ln "
                    .. S.sh_quote(theirs) .. " " .. S.sh_quote(path)))
                local ok, _, code = T.save(path, sess)
                assert.is_nil(ok)
                assert.are.equal(T.codes.EPERM, code)
                -- ...and a file of ours that has a second link.
                local ours, other = fresh("ours.pem"), fresh("other-name")
                assert(S.run("touch " .. S.sh_quote(ours) .. " && chmod 600 "
                    .. S.sh_quote(ours) .. " && ln " .. S.sh_quote(ours) .. " "
                    .. S.sh_quote(other)))
                local ok2, err2, code2 = T.save(ours, sess)
                assert.is_nil(ok2)
                assert.are.equal(T.codes.EPERM, code2)
                assert.truthy(err2:find("2 hard links", 1, true), err2)
                assert.are.equal("0", stat(theirs, "%s"))
                assert.are.equal("0", stat(other, "%s"))
                no_leftovers()
            end)

            it("regression: save refuses a planted symlink (issue 8 "
               .. "finding 3)", function()
                local target = fresh("target")
                local path = fresh("symlink.pem")
                assert(as_attacker("touch " .. S.sh_quote(target)
                    .. " && chmod 666 " .. S.sh_quote(target) .. " && ln -s "
                    .. S.sh_quote(target) .. " " .. S.sh_quote(path)))
                local ok, err, code = T.save(path, sess)
                assert.is_nil(ok)
                assert.are.equal(T.codes.EPERM, code)
                assert.truthy(err:find("symbolic link", 1, true), err)
                assert.are.equal("0", stat(target, "%s"))
            end)

            it("regression: load refuses a session file another user could "
               .. "have written (issue 8 finding 3)", function()
                -- The attacker's own session (a secret she knows) at the
                -- path root will load.
                local path = fresh("theirs.pem")
                assert(as_attacker("cat " .. S.sh_quote(VECTOR) .. " > "
                                   .. S.sh_quote(path)))
                local s, err, code = T.load(path)
                assert.is_nil(s)
                assert.are.equal(T.codes.EPERM, code)
                assert.truthy(err:find("owned by uid", 1, true), err)
                -- Ours, but anyone can write it.
                local open = fresh("open.pem")
                assert(S.run("cp " .. S.sh_quote(VECTOR) .. " "
                             .. S.sh_quote(open) .. " && chmod 666 "
                             .. S.sh_quote(open)))
                s, err, code = T.load(open)
                assert.is_nil(s)
                assert.are.equal(T.codes.EPERM, code)
                assert.truthy(err:find("writable", 1, true), err)
                -- A planted FIFO: refused at once, no hang.
                local fifo = fresh("load-fifo.pem")
                assert(as_attacker("mkfifo -m 666 " .. S.sh_quote(fifo)))
                local ran, out = in_child(module, "load", fifo)
                assert.is_true(ran, out)
                assert.truthy(out:match("^nil %-19 .*a FIFO"), out)
                -- What save wrote loads back.
                local good = fresh("roundtrip.pem")
                assert.is_true(T.save(good, sess))
                assert.are.equal(pem, assert(T.serialize(assert(T.load(good)),
                                                         "pem")))
            end)

            it("writes a new file 0600 and replaces its own file by rename",
               function()
                local path = fresh("good.pem")
                assert.is_true(T.save(path, sess))
                assert.are.equal("600 root regular file",
                                 stat(path, "%a %U %F"))
                assert.are.equal(pem, S.read(path))
                local inode = stat(path, "%i")
                assert(S.run("chmod 644 " .. S.sh_quote(path)))
                assert.is_true(T.save(path, sess, "der"))
                assert.are.equal("600", stat(path, "%a"))
                assert.are_not.equal(inode, stat(path, "%i"))
                assert.are.equal(assert(T.serialize(sess, "der")),
                                 S.read(path))
                no_leftovers()
            end)

            it("a directory it cannot write: nil, msg, code; nothing left",
               function()
                local ok, err, code = T.save(dir .. "/no/such/dir/x.pem", sess)
                assert.is_nil(ok)
                assert.is_string(err)
                assert.are.equal(T.codes.EIO, code)
                local ok2, _, code2 = T.save(pub .. "/", sess)
                assert.is_nil(ok2)
                assert.are.equal(T.codes.EINVAL, code2)
                local ok3, _, code3 = T.save(pub .. "/a\0b", sess)
                assert.is_nil(ok3)
                assert.are.equal(T.codes.EINVAL, code3)
            end)
        end)
    end
end)
