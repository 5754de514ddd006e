-- The text between the header's "/* TLSR_CDEF_BEGIN */" line and its
-- "/* TLSR_CDEF_END */" line (exclusive), exactly as in the file.
local M = {}

function M.extract(text)
    local b1, b2 = text:find("/* TLSR_CDEF_BEGIN */\n", 1, true)
    local e1 = text:find("/* TLSR_CDEF_END */", 1, true)
    if not b1 or not e1 or e1 < b2 then
        return nil, "TLSR_CDEF markers not found"
    end
    return text:sub(b2 + 1, e1 - 1)
end

return M
