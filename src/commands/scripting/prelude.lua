-- tine's scripting prelude: builds the `redis` table, the sandbox (read-only globals and
-- library tables, Redis's error texts) and the runner, from Rust functions passed in `raw`.
-- Loaded once per Lua VM, as chunk "=tine" (the error handler skips its frames).
local raw, G = ...
local error, type, tostring, rawget, rawset, setmetatable, getmetatable, next, select, xpcall =
    error, type, tostring, rawget, rawset, setmetatable, getmetatable, next, select, xpcall
local setfenv, loadstring, load, floor, pcall = setfenv, loadstring, load, math.floor, pcall

-- Errors raised by the Rust functions reach Lua as userdata; scripts see Redis's error tables.
local unwrap = raw.unwrap
local KILLED = 'ERR Script killed by user with SCRIPT KILL...'
local function fix(ok, ...)
  if ok then return ok, ... end
  local e = ...
  if type(e) == 'userdata' then e = unwrap(e) end
  -- SCRIPT KILL cannot be caught: the script ends (Redis raises it again on every line).
  if type(e) == 'table' and rawget(e, 'err') == KILLED then error(e, 0) end
  -- As Redis's pcall: an error table with a message is caught as that message.
  if type(e) == 'table' then
    local m = rawget(e, 'err')
    if type(m) == 'string' or type(m) == 'number' then e = m end
  end
  return false, e
end

local function rethrow_kill(ok, ...)
  if not ok then
    local e = ...
    if type(e) == 'table' and rawget(e, 'err') == KILLED then error(e, 0) end
  end
  return ok, ...
end

-- Read-only tables: an empty proxy whose reads go to the real table and whose writes fail.
local real_of = setmetatable({}, { __mode = 'k' })
local function deny() error("Attempt to modify a readonly table", 2) end
local function readonly(real, extra_meta)
  local p = {}
  real_of[p] = real
  local mm = { __index = 'read only' }
  real_of[mm] = mm
  setmetatable(mm, { __newindex = deny, __metatable = false })
  setmetatable(p, { __index = real, __newindex = deny, __metatable = extra_meta or mm })
  return p
end

local redis = {}
for _, name in next, { 'call', 'pcall', 'sha1hex', 'error_reply', 'status_reply', 'log', 'setresp',
                        'set_repl', 'acl_check_cmd' } do
  redis[name] = raw[name]
end
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.REDIS_VERSION = raw.version
redis.REDIS_VERSION_NUM = raw.version_num

-- math.random on Redis's rand48, never reseeded per script.
local lrand48, srand48 = raw.lrand48, raw.srand48
local function checkint(v, n, fname)
  local x = tonumber(v)
  if x == nil then
    local got = (v == nil) and 'no value' or type(v)
    error("bad argument #" .. n .. " to '" .. fname .. "' (number expected, got " .. got .. ")", 3)
  end
  if x >= 0 then return floor(x) else return -floor(-x) end
end
local math_ = {}
for k, v in next, math do math_[k] = v end
math_.random = function(...)
  local r = (lrand48() % 2147483647) / 2147483647
  local n = select('#', ...)
  if n == 0 then
    return r
  elseif n == 1 then
    local u = checkint((...), 1, 'random')
    if u < 1 then error("bad argument #1 to 'random' (interval is empty)", 2) end
    return floor(r * u) + 1
  elseif n == 2 then
    local l, u = ...
    l = checkint(l, 1, 'random')
    u = checkint(u, 2, 'random')
    if l > u then error("bad argument #2 to 'random' (interval is empty)", 2) end
    return floor(r * (u - l + 1)) + l
  end
  error("wrong number of arguments", 2)
end
math_.randomseed = function(s) srand48(checkint(s, 1, 'randomseed')) end

-- No bytecode: a binary chunk does not load (loadstring returns nil).
local function safe_loadstring(s, name)
  if type(s) == 'string' and s:byte(1) == 27 then
    return nil, "binary chunks are not allowed"
  end
  local f, e = loadstring(s, name)
  if f then setfenv(f, G._G) end
  return f, e
end
local function safe_load(f, name)
  if type(f) == 'string' then return safe_loadstring(f, name) end
  local parts = {}
  while true do
    local p = f()
    if p == nil or p == '' then break end
    parts[#parts + 1] = p
  end
  return safe_loadstring(table.concat(parts), name)
end

-- The globals scripts see: library tables read-only, the Lua functions Redis removes gone.
for _, name in next, { 'print', 'dofile', 'loadfile', 'require', 'module', 'getfenv', 'setfenv',
                        'newproxy', 'os', 'io', 'package', 'debug' } do
  rawset(G, name, nil)
end
G.loadstring = safe_loadstring
G.load = safe_load
G.pcall = function(f, ...) return fix(pcall(f, ...)) end
G.xpcall = function(f, h)
  return rethrow_kill(xpcall(f, function(e)
    if type(e) == 'userdata' then e = unwrap(e) end
    if type(e) == 'table' and rawget(e, 'err') == KILLED then return e end
    return h(e)
  end))
end
G.next = function(t, k)
  local r = real_of[t]
  if r then return next(r, k) end
  return next(t, k)
end
local next_ = G.next
G.pairs = function(t)
  if type(t) ~= 'table' then error("bad argument #1 to 'pairs' (table expected, got " .. type(t) .. ")", 2) end
  return next_, t, nil
end
G.math = readonly(math_)
G.string = readonly(string)
G.table = readonly(table)
G.coroutine = readonly(coroutine)
for _, lib in next, { 'cjson', 'cmsgpack', 'struct', 'bit' } do
  local t = raw[lib]
  if t then G[lib] = readonly(t) end
end
G.redis = readonly(redis)
G.__redis__err__handler = function(e) return e end

-- The globals table: unknown names are an error, writes go through the proxy (read-only).
local gmeta_real = {}
gmeta_real.__index = function(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end
setmetatable(G, gmeta_real)
local env = readonly(G, readonly(gmeta_real))
rawset(G, '_G', env)

-- Runs one script (a function with its env already `env`): returns ok, first result.
local function run(f, handler)
  return xpcall(f, handler)
end
local function run_with(f, handler, a, b)
  return xpcall(function() return f(a, b) end, handler)
end

return env, real_of, run, run_with
