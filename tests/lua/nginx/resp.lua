-- A minimal RESP client over ngx.socket.tcp with the lua-resty-redis
-- methods resty.tlsresume.redis calls (Debian ships no lua-resty-redis):
-- each returns the reply, or nil, err; a nil bulk or array is ngx.null.
local M = {}
M.__index = M

function M.new(timeout)
    local sock = ngx.socket.tcp()
    sock:settimeouts(timeout or 1000, timeout or 1000, timeout or 1000)
    return setmetatable({ sock = sock }, M)
end

function M:connect(host, port)
    return self.sock:connect(host, port)
end

local function read_reply(sock)
    local line, err = sock:receive("*l")
    if not line then
        return nil, err
    end
    local t, rest = line:sub(1, 1), line:sub(2)
    if t == "+" then
        return rest
    elseif t == "-" then
        return nil, rest
    elseif t == ":" then
        return tonumber(rest)
    elseif t == "$" then
        local n = tonumber(rest)
        if n < 0 then
            return ngx.null
        end
        local data, rerr = sock:receive(n + 2)
        if not data then
            return nil, rerr
        end
        return data:sub(1, n)
    elseif t == "*" then
        local n = tonumber(rest)
        if n < 0 then
            return ngx.null
        end
        local out = {}
        for i = 1, n do
            local v, verr = read_reply(sock)
            if v == nil then
                return nil, verr
            end
            out[i] = v
        end
        return out
    end
    return nil, "bad reply: " .. line
end

function M:command(...)
    local args = { ... }
    local parts = { "*" .. #args .. "\r\n" }
    for _, a in ipairs(args) do
        a = tostring(a)
        parts[#parts + 1] = "$" .. #a .. "\r\n" .. a .. "\r\n"
    end
    local ok, err = self.sock:send(table.concat(parts))
    if not ok then
        return nil, err
    end
    return read_reply(self.sock)
end

for _, cmd in ipairs({ "auth", "evalsha", "eval", "del",
                       "flushall", "keys" }) do
    M[cmd] = function(self, ...)
        return self:command(cmd:upper(), ...)
    end
end

function M:close()
    return self.sock:close()
end

return M
