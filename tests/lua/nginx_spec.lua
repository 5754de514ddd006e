-- OpenResty end to end: a real nginx with Debian's ngx_lua, started here on
-- loopback ports with its own prefix, conf and logs in a temporary
-- directory (tests/lua/nginx/).  Resumption is the TLS server's own verdict
-- ($ssl_session_reused), never assumed.  Runs once, under Lua 5.4.
local S = require "support"
local socket = require "socket"

local MODULES = os.getenv("TLSR_NGINX_MODULES") or "/usr/lib/nginx/modules"

local function free_port()
    local s = assert(socket.bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    s:close()
    return tonumber(port)
end

local function http_get(port, path)
    local c = socket.tcp()
    c:settimeout(15)
    local ok, err = c:connect("127.0.0.1", port)
    if not ok then
        return nil, err
    end
    c:send("GET " .. path .. " HTTP/1.0\r\nHost: t\r\n\r\n")
    local resp = c:receive("*a") or ""
    c:close()
    local status = tonumber(resp:match("^HTTP/%d%.%d (%d+)"))
    return status, resp:match("\r\n\r\n(.*)$") or ""
end

local function is_root()
    local _, out = S.run("id -u")
    return out:match("^0") ~= nil
end

local Nginx = {}
Nginx.__index = Nginx

local function new_nginx()
    local dir = S.tmpdir()
    local self = setmetatable({
        dir = dir,
        store = dir .. "/store",
        http = free_port(),
        tls12 = free_port(),
        tls13 = free_port(),
    }, Nginx)
    -- Workers run as root here: the store wants a 0700 directory owned by
    -- the user that writes it, and the test's temporary directory is root's.
    -- (In production: a directory owned by nginx's worker user.)
    local vars = {
        USER = is_root() and "user root;" or "",
        DIR = dir, ROOT = S.root, BUILD = S.build, VECTORS = S.vectors,
        MODULES = MODULES, PORT_HTTP = self.http, PORT_TLS12 = self.tls12,
        PORT_TLS13 = self.tls13,
    }
    local conf = S.read(S.root .. "/tests/lua/nginx/nginx.conf.in")
        :gsub("@([%w_]+)@", function(k) return tostring(assert(vars[k], k)) end)
    S.write(dir .. "/nginx.conf", conf)
    assert(S.run("head -c 80 /dev/urandom > " .. S.sh_quote(dir
                 .. "/ticket.key") .. " && mkdir -m 700 "
                 .. S.sh_quote(self.store)))
    return self
end

function Nginx:start()
    self.pid = S.spawn(("nginx -p %s -c %s -e %s"):format(
        S.sh_quote(self.dir), S.sh_quote(self.dir .. "/nginx.conf"),
        S.sh_quote(self.dir .. "/error.log")), self.dir .. "/nginx.out")
    for _ = 1, 100 do
        local c = socket.tcp()
        c:settimeout(0.2)
        local ok = c:connect("127.0.0.1", self.http)
        c:close()
        if ok then
            return
        end
        S.sleep(0.05)
    end
    self:stop()
    error("nginx did not start:\n" .. (S.read(self.dir .. "/nginx.out"))
          .. (io.open(self.dir .. "/error.log") and S.read(self.dir
              .. "/error.log") or ""))
end

function Nginx:stop()
    if self.pid then
        -- The master and its workers share the process group setsid made.
        os.execute("kill -QUIT " .. self.pid .. " 2>/dev/null")
        for _ = 1, 60 do
            if not S.run("kill -0 " .. self.pid .. " 2>/dev/null") then
                break
            end
            S.sleep(0.05)
        end
        os.execute("kill -9 -" .. self.pid .. " 2>/dev/null")
        self.pid = nil
    end
end

function Nginx:log()
    local f = io.open(self.dir .. "/error.log", "rb")
    local s = f and f:read("*a") or ""
    if f then f:close() end
    return s
end

-- GET until the wanted worker serves it (reuseport spreads connections).
function Nginx:connect(port, store, worker, dir, extra)
    local path = ("/connect?port=%d&store=%s&dir=%s"):format(port, store,
                                                             dir or self.store)
        .. (extra or "")
    if worker then
        path = path .. "&worker=" .. worker
    end
    for _ = 1, 200 do
        local status, body = http_get(self.http, path)
        if status == 200 then
            return body
        elseif status ~= 409 then
            error(("GET %s: %s %s\n%s"):format(path, tostring(status),
                                                 tostring(body), self:log()))
        end
    end
    error("worker " .. tostring(worker) .. " never answered")
end

if jit then
    return -- the nginx side is the same whichever VM runs busted
end

describe("OpenResty (nginx + ngx_lua + resty.tlsresume)", function()
    local ngx_

    setup(function()
        ngx_ = new_nginx()
        ngx_:start()
    end)

    teardown(function()
        if ngx_ then
            ngx_:stop()
            S.rmdir(ngx_.dir)
        end
    end)

    for _, v in ipairs({ "1.2", "1.3" }) do
        local proto = v == "1.3" and "TLSv1.3" or "TLSv1.2"
        local function port()
            return v == "1.3" and ngx_.tls13 or ngx_.tls12
        end

        it("TLS " .. v .. ": worker B resumes worker A's session from the "
           .. "shared dict", function()
            local a = ngx_:connect(port(), "shdict", 0)
            assert.truthy(a:find("worker=0", 1, true), a)
            assert.truthy(a:find("offered=no reused=. protocol=" .. proto,
                                 1, true), a)
            assert.truthy(a:find("stored=true", 1, true), a)
            local b = ngx_:connect(port(), "shdict", 1)
            assert.truthy(b:find("worker=1", 1, true), b)
            assert.truthy(b:find("offered=yes reused=r protocol=" .. proto,
                                 1, true), b)
            assert.truthy(b:find("stored=true", 1, true), b)
        end)

        for _, store in ipairs({ "shdict", "disk", "tiered" }) do
            it("TLS " .. v .. ", " .. store .. ": regression: a session made "
               .. "without verification, or under another trust label, is "
               .. "not offered to a verifying handshake", function()
                -- A directory of its own (the store makes it, 0700).
                local dir = ngx_.store .. "/trust-" .. store .. v
                local c = function(extra)
                    return ngx_:connect(port(), store, nil, dir, extra)
                end
                local loose = c("")
                assert.truthy(loose:find("stored=true", 1, true), loose)
                local a = c("&verify=1&trust=ca-a")
                assert.truthy(a:find("offered=no reused=. ", 1, true), a)
                assert.truthy(a:find("stored=true", 1, true), a)
                local b = c("&verify=1&trust=ca-b")
                assert.truthy(b:find("offered=no reused=. ", 1, true), b)
                -- (TLS 1.2 keeps one session a key: the newest, ca-b's.)
                local again = c("&verify=1&trust=ca-b")
                assert.truthy(again:find("offered=yes reused=r ", 1, true),
                              again)
            end)
        end

        it("TLS " .. v .. ": shared dict store semantics (live sessions)",
           function()
            local status, body = http_get(ngx_.http, ("/selftest?port=%d&tls13=%s")
                :format(port(), v == "1.3" and "1" or "0"))
            assert.are.equal(200, status, body .. ngx_:log())
            assert.falsy(body:find("FAIL"), body)
            assert.truthy(body:find("ok "), body)
        end)

        it("TLS " .. v .. ": a session stored on disk is resumed after "
           .. "nginx restarts", function()
            local a = ngx_:connect(port(), "disk")
            assert.truthy(a:find("stored=true", 1, true), a)
            ngx_:stop()
            ngx_:start()
            local b = ngx_:connect(port(), "disk")
            assert.truthy(b:find("offered=yes reused=r protocol=" .. proto,
                                 1, true), b)
        end)
    end

    for _, v in ipairs({ "1.2", "1.3" }) do
        local proto = v == "1.3" and "TLSv1.3" or "TLSv1.2"
        it("TLS " .. v .. ": the tiered store resumes from the shared dict, "
           .. "then from disk after nginx stop/start", function()
            local port = v == "1.3" and ngx_.tls13 or ngx_.tls12
            local dir = ngx_.dir .. "/tiered-" .. v
            assert(S.run("mkdir -m 700 " .. S.sh_quote(dir)))
            local a = ngx_:connect(port, "tiered", nil, dir)
            assert.truthy(a:find("offered=no", 1, true), a)
            assert.truthy(a:find("stored=true mem=0", 1, true), a)
            local b = ngx_:connect(port, "tiered", nil, dir)
            assert.truthy(b:find("offered=yes reused=r protocol=" .. proto,
                                 1, true), b)
            assert.truthy(b:find("stored=true mem=1", 1, true), b)
            ngx_:stop()
            ngx_:start()
            -- The dict is gone with the old master: this one is from disk.
            local c = ngx_:connect(port, "tiered", nil, dir)
            assert.truthy(c:find("offered=yes reused=r protocol=" .. proto,
                                 1, true), c)
            assert.truthy(c:find("mem=0", 1, true), c)
            -- ...and it was put back in both tiers.
            local d = ngx_:connect(port, "tiered", nil, dir)
            assert.truthy(d:find("offered=yes reused=r", 1, true), d)
            assert.truthy(d:find("mem=1", 1, true), d)
        end)
    end

    it("a store directory the workers cannot use: the error says who they "
       .. "run as and how to create it for them", function()
        if not is_root() then
            return pending("needs root (chown)")
        end
        local dir = ngx_.dir .. "/foreign"
        assert(S.run("mkdir -m 700 " .. S.sh_quote(dir) .. " && chown 65534 "
                     .. S.sh_quote(dir)))
        local status, body = http_get(ngx_.http, "/storeerr?dir=" .. dir)
        assert.are.equal(200, status)
        assert.truthy(body:find("owned by", 1, true), body)
        assert.truthy(body:find("nginx workers run as user root", 1, true),
                      body)
        assert.truthy(body:find("`nobody` by default", 1, true), body)
        assert.truthy(body:find("install -d -m 0700 -o root -g root " .. dir,
                                1, true), body)
    end)

    it("TLS 1.3 tickets in the shared dict are taken once across workers",
       function()
        local n = 12
        local status, body = http_get(ngx_.http, ("/fill?port=%d&n=%d")
                                      :format(ngx_.tls13, n))
        assert.are.equal(200, status, body)
        assert.are.equal(tostring(n), body:match("%d+"))
        -- 2n requests in flight at once, spread over both workers.
        local socks = {}
        for i = 1, 2 * n do
            local c = socket.tcp()
            c:settimeout(15)
            assert(c:connect("127.0.0.1", ngx_.http))
            socks[i] = c
        end
        for _, c in ipairs(socks) do
            c:send(("GET /take?port=%d HTTP/1.0\r\n\r\n"):format(ngx_.tls13))
        end
        local seen, got, none = {}, 0, 0
        for _, c in ipairs(socks) do
            local resp = c:receive("*a") or ""
            c:close()
            local id = resp:match("id=(%w+)")
            assert.is_not_nil(id, resp)
            if id == "none" then
                none = none + 1
            else
                assert.is_nil(seen[id], "ticket taken twice: " .. id)
                seen[id] = true
                got = got + 1
            end
        end
        assert.are.equal(n, got)
        assert.are.equal(n, none)
    end)

    it("logged no Lua errors", function()
        assert.falsy(ngx_:log():find("lua entry thread aborted", 1, true),
                     ngx_:log())
    end)
end)

-- resty.tlsresume.redis: nginx workers and a Python process (RedisStore)
-- share one real redis-server (free port, password), both ways.
describe("OpenResty and Python share a Redis store", function()
    local ngx_, redis_pid, redis_port, pyenv
    local pw = "pw" .. tostring(os.time())
    local PY = os.getenv("PYTHON") or "python3"

    setup(function()
        ngx_ = new_nginx()
        ngx_:start()
        redis_port = free_port()
        redis_pid = S.spawn(("redis-server --port %d --bind 127.0.0.1 "
            .. "--requirepass %s --save '' --appendonly no --daemonize no")
            :format(redis_port, pw), ngx_.dir .. "/redis.log")
        for _ = 1, 100 do
            local c = socket.tcp()
            c:settimeout(0.2)
            local ok = c:connect("127.0.0.1", redis_port)
            c:close()
            if ok then break end
            S.sleep(0.05)
        end
        pyenv = ""
        if not S.run(PY .. " -c 'import tlsresume, redis; "
                     .. "tlsresume.RedisStore'") then
            local target = ngx_.dir .. "/py"
            local ok, out = S.run(("%s -m pip install -q --no-deps "
                .. "--disable-pip-version-check --root-user-action=ignore "
                .. "--target %s %s"):format(PY, S.sh_quote(target),
                                            S.sh_quote(S.root)))
            assert(ok, "building the Python package failed:\n" .. out)
            pyenv = "PYTHONPATH=" .. S.sh_quote(target) .. " "
        end
    end)

    teardown(function()
        S.kill(redis_pid)
        if ngx_ then
            ngx_:stop()
            S.rmdir(ngx_.dir)
        end
    end)

    local function python(port)
        local ok, out = S.run(("cd /tmp && %s%s %s %d %s"):format(pyenv, PY,
            S.sh_quote(S.root .. "/tests/lua/tools/py_redis_client.py"),
            port, S.sh_quote(("redis://:%s@127.0.0.1:%d/0")
                             :format(pw, redis_port))))
        assert(ok, out)
        return out
    end

    for _, v in ipairs({ "1.2", "1.3" }) do
        it("TLS " .. v .. ": a worker's session resumes in Python, "
           .. "Python's in another worker", function()
            local port = v == "1.3" and ngx_.tls13 or ngx_.tls12
            local extra = ("&redis_port=%d&redis_pw=%s"):format(redis_port,
                                                                 pw)
            local a = ngx_:connect(port, "redis", 0, nil, extra)
            assert.truthy(a:find("offered=no reused=. ", 1, true), a)
            assert.truthy(a:find("stored=true", 1, true), a)
            local p = python(port)
            assert.truthy(p:find("offered=yes reused=r ", 1, true), p)
            assert.truthy(p:find("stored=True", 1, true), p)
            local b = ngx_:connect(port, "redis", 1, nil, extra)
            assert.truthy(b:find("offered=yes reused=r ", 1, true), b)
            assert.truthy(b:find("stored=true", 1, true), b)
        end)
    end
end)
