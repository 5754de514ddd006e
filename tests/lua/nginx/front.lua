-- Handlers of the test nginx's front (tests/lua/nginx/nginx.conf.in).
-- /connect?port=P&store=shdict|disk|tiered[&dir=D][&worker=N][&verify=1]
--   [&trust=LABEL][&sni=NAME]
--   (409 unless served by worker N) takes a session for 127.0.0.1:P from the
--   store, makes one TLS connection with it, reads the server's page
--   ("reused=r|. protocol=..." from $ssl_session_reused) and stores the
--   connection's session; answers "worker=W offered=yes|no <page>
--   stored=true|<err>"; the tiered store also " mem=N": the sessions its
--   shared-dict tier held before the lookup.  verify=1: sslhandshake
--   verifies (lua_ssl_trusted_certificate is the upstream's certificate),
--   and the stores get {verify = true, trust = LABEL}; a failed handshake
--   answers "failed=<err>".
-- /storeerr?dir=D: the error opening a directory store there.
-- /selftest?port=P runs the shared-dict store's semantics on live sessions.
-- /fill and /take: take-once across workers (below).
local T = require "resty.tlsresume"
local shdict = require "resty.tlsresume.shdict"
local tiered = require "resty.tlsresume.tiered"

local M = {}
local HOST = "127.0.0.1"

-- One keep-alive request; the connection stays open so sslhandshake() can
-- be asked again for the session (TLS 1.3 tickets come with the response).
local function fetch(sock)
    assert(sock:send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"))
    local len
    while true do
        local line = assert(sock:receive("*l"))
        if line == "" then
            break
        end
        len = len or tonumber(line:lower():match("^content%-length:%s*(%d+)"))
    end
    if not len then
        error("no content-length")
    end
    return assert(sock:receive(len))
end

-- These connections do not verify unless asked: the stores must know.
local NV = { verify = false }

-- Returns page, the connection's resumable session.
local function connect(port, sess, verify, sni)
    local sock = ngx.socket.tcp()
    sni = sni or "localhost"
    sock:settimeouts(5000, 5000, 5000)
    assert(sock:connect(HOST, port))
    local s, err = sock:sslhandshake(sess, sni, verify or false)
    if not s then
        error("sslhandshake: " .. tostring(err))
    end
    local page = fetch(sock)
    -- Again, after reading: now the session has the server's ticket.  Pass
    -- nil: given a session, 0.10.23 just hands that same cdata back.
    s, err = sock:sslhandshake(nil, sni, verify or false)
    if not s then
        error("sslhandshake (2nd): " .. tostring(err))
    end
    sock:close()
    return page, s
end

-- One dict prefix per upstream port: count() then counts that key only.
local function tier_prefix(args)
    return "tier" .. args.port .. ":"
end

-- store=redis&redis_port=P&redis_pw=PW: resty.tlsresume.redis over the
-- test's own RESP client (resp.lua), connected for this request.
local function redis_store(args)
    local resp = require "resp"
    local red = resp.new(1000)
    assert(red:connect("127.0.0.1", assert(tonumber(args.redis_port))))
    assert(red:auth(args.redis_pw))
    local st = assert(require("resty.tlsresume.redis").new(red))
    st.close = function() red:close() end
    return st
end

local function open_store(args)
    if args.store == "redis" then
        return redis_store(args)
    elseif args.store == "disk" then
        return assert(T.store(args.dir))
    elseif args.store == "tiered" then
        return assert(tiered.new("tls_sessions", args.dir,
                                 { prefix = tier_prefix(args) }))
    end
    return shdict.new("tls_sessions", {
        max_tickets = tonumber(args.max_tickets),
    })
end

function M.connect()
    local args = ngx.req.get_uri_args()
    local want = tonumber(args.worker)
    if want and ngx.worker.id() ~= want then
        return ngx.exit(409)
    end
    local port = assert(tonumber(args.port))
    local store = open_store(args)
    local mem = ""
    if args.store == "tiered" then
        mem = " mem=" .. shdict.new("tls_sessions", { prefix = tier_prefix(args) })
            :count()
    end
    local opts = NV
    if args.verify == "1" then
        opts = { verify = true, trust = args.trust }
    end
    local sess = store:take(HOST, port, nil, opts)
    local done, page, new = pcall(connect, port, sess, opts.verify, args.sni)
    if not done then
        ngx.say("worker=", ngx.worker.id(), " offered=",
                sess and "yes" or "no", " failed=", tostring(page))
        return
    end
    local ok, err = store:put(HOST, port, new, nil, opts)
    if store.close then
        store:close()
    end
    ngx.say("worker=", ngx.worker.id(), " offered=", sess and "yes" or "no",
            " ", (page:gsub("\n$", "")), " stored=", ok and "true" or err,
            mem)
end

function M.storeerr()
    local st, err = T.store(ngx.req.get_uri_args().dir)
    if st then
        st:close()
    end
    ngx.say(err or "opened")
end

-- /fill?port=P&n=N: N fresh sessions (TLS 1.3: N distinct tickets) under
-- one key of a "race:" store; /take?port=P: take one, answer its id or
-- "none".  The spec fires many /take at both workers at once.
local function race_store(n)
    return shdict.new("tls_sessions", { prefix = "race:", max_tickets = n })
end

function M.fill()
    local args = ngx.req.get_uri_args()
    local port, n = assert(tonumber(args.port)), assert(tonumber(args.n))
    local st = race_store(n)
    st:remove(HOST, port)
    for _ = 1, n do
        local _, s = connect(port, nil)
        assert(st:put(HOST, port, s, nil, NV))
    end
    ngx.say(st:count())
end

function M.take()
    local port = assert(tonumber(ngx.req.get_uri_args().port))
    local s = race_store(64):take(HOST, port, nil, NV)
    ngx.say("worker=", ngx.worker.id(), " id=",
            s and T.inspect(s).session_id or "none")
end

function M.selftest()
    local args = ngx.req.get_uri_args()
    local port = assert(tonumber(args.port))
    local tls13 = args.tls13 == "1"
    local dict = ngx.shared.tls_sessions
    local st = shdict.new(dict, { max_tickets = 2, prefix = "self:" })
    local out = {}
    local function check(cond, what)
        out[#out + 1] = (cond and "ok " or "FAIL ") .. what
    end
    st:remove(HOST, port)
    st:remove(HOST, port, "other")
    local _, _, code = st:take(HOST, port, nil, NV)
    check(code == T.codes.ENOTFOUND, "empty store: ENOTFOUND")
    local sessions = {}
    for i = 1, 3 do
        local _, s = connect(port, nil)
        sessions[i] = s
        check(st:put(HOST, port, s, nil, NV) == true, "put " .. i)
    end
    local ids = {}
    for i = 1, 3 do
        ids[i] = T.inspect(sessions[i]).session_id
    end
    if tls13 then
        check(st:count() == 2, "max_tickets=2 keeps 2 tickets, count "
              .. st:count())
        local peek = st:get(HOST, port, nil, NV)
        check(T.inspect(peek).session_id == ids[3], "get peeks the newest")
        local a = st:take(HOST, port, nil, NV)
        check(T.inspect(a).session_id == ids[3], "take: newest first")
        local b = st:take(HOST, port, nil, NV)
        check(T.inspect(b).session_id == ids[2], "take: then the next")
        local c, _, c3 = st:take(HOST, port, nil, NV)
        check(c == nil and c3 == T.codes.ENOTFOUND,
              "each ticket taken once; the oldest fell off")
    else
        check(st:count() == 1, "TLS 1.2: one session per key")
        local a = st:take(HOST, port, nil, NV)
        local b = st:take(HOST, port, nil, NV)
        check(a and b and T.inspect(b).session_id == ids[3],
              "TLS 1.2: take leaves the newest session for reuse")
    end
    local _, _, c4 = st:take(HOST, port, "other", NV)
    check(c4 == T.codes.ENOTFOUND, "another scope sees nothing")
    local _, _, c6 = st:get(HOST .. "\0evil", port)
    check(c6 == T.codes.EINVAL, "a NUL in the host: EINVAL (issue 8 finding 5)")
    check(st:remove(HOST, port) >= 0, "remove")
    local _, _, c5 = st:take(HOST, port, nil, NV)
    check(c5 == T.codes.ENOTFOUND, "removed")
    -- A session without a ticket (TLS 1.3 before reading) is refused.
    if tls13 then
        local sock = ngx.socket.tcp()
        sock:settimeouts(5000, 5000, 5000)
        assert(sock:connect(HOST, port))
        local s = assert(sock:sslhandshake(nil, "localhost", false))
        local ok, err, code = st:put(HOST, port, s, nil, NV)
        check(ok == nil and code == T.codes.ENOTRESUMABLE,
              "no ticket yet: ENOTRESUMABLE (" .. tostring(err) .. ")")
        sock:close()
    end
    -- Misuse raises.
    check(not pcall(st.put, st, HOST, "443", sessions[1]), "bad port raises")
    check(not pcall(T.serialize, "x"), "serialize(string) raises")
    ngx.say(table.concat(out, "\n"))
end

return M
