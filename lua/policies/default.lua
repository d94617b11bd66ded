--- The plain policy: calls go as the script wrote them; errors fail.
local M = {}

function M.on_error()
  return "fail"
end

return M
