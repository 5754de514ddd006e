-- The backends a spec runs against: the C module everywhere, and the FFI
-- binding too under LuaJIT.  Both expose serialize, deserialize, inspect,
-- set_id_context, ticket, ticket_decrypt, store, codes and error_name with
-- the same conventions.
local B = {
    { name = "C module", M = require("tlsresume"), kind = "c" },
}
if jit then
    B[#B + 1] = { name = "FFI", M = require("resty.tlsresume"), kind = "ffi" }
end
return B
