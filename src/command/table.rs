//! THE command table: every command tine serves, with Redis 7.0's arity, flags, ACL
//! categories, key positions, group, summary and version (rows are printed from a real
//! redis-server by `scripts/command-row`, then pointed at tine's handler). The registry in
//! `mod.rs` is built from this list; nothing else defines a command.

use super::{Command, Keys, admin, connection, keys, list, strings};

/// Handler of a container command (CONFIG, CLIENT...) run without a known subcommand; the
/// dispatcher answers those cases before this could run.
fn container(
    _srv: &mut crate::server::Server,
    c: &mut crate::net::client::Client,
    argv: &super::Argv,
) {
    c.add_err(&format!(
        "unknown subcommand '{}'",
        String::from_utf8_lossy(argv.get(1).map(|a| a.as_slice()).unwrap_or(b""))
    ));
}

#[rustfmt::skip]
const CLIENT_SUBCOMMANDS: &[Command] = &[
    Command { name: "id", arity: 2, flags: "noscript loading stale", acl: "slow connection", keys: Keys::None, group: "connection", summary: "Returns the client ID for the current connection", since: "5.0.0", handler: connection::client_id, subcommands: &[] },
    Command { name: "setname", arity: 3, flags: "noscript loading stale", acl: "slow connection", keys: Keys::None, group: "connection", summary: "Set the current connection name", since: "2.6.9", handler: connection::client_setname, subcommands: &[] },
    Command { name: "getname", arity: 2, flags: "noscript loading stale", acl: "slow connection", keys: Keys::None, group: "connection", summary: "Get the current connection name", since: "2.6.9", handler: connection::client_getname, subcommands: &[] },
    Command { name: "list", arity: -2, flags: "admin noscript loading stale", acl: "admin slow dangerous connection", keys: Keys::None, group: "connection", summary: "Get the list of client connections", since: "2.4.0", handler: connection::client_list, subcommands: &[] },
    Command { name: "info", arity: 2, flags: "noscript loading stale", acl: "slow connection", keys: Keys::None, group: "connection", summary: "Returns information about the current client connection.", since: "6.2.0", handler: connection::client_info, subcommands: &[] },
    Command { name: "kill", arity: -3, flags: "admin noscript loading stale", acl: "admin slow dangerous connection", keys: Keys::None, group: "connection", summary: "Kill the connection of a client", since: "2.4.0", handler: connection::client_kill, subcommands: &[] },
    Command { name: "pause", arity: -3, flags: "admin noscript loading stale", acl: "admin slow dangerous connection", keys: Keys::None, group: "connection", summary: "Stop processing commands from clients for some time", since: "2.9.50", handler: connection::client_pause, subcommands: &[] },
    Command { name: "unpause", arity: 2, flags: "admin noscript loading stale", acl: "admin slow dangerous connection", keys: Keys::None, group: "connection", summary: "Resume processing of clients that were paused", since: "6.2.0", handler: connection::client_unpause, subcommands: &[] },
    Command { name: "reply", arity: 3, flags: "noscript loading stale", acl: "slow connection", keys: Keys::None, group: "connection", summary: "Instruct the server whether to reply to commands", since: "3.2.0", handler: connection::client_reply, subcommands: &[] },
    Command { name: "no-evict", arity: 3, flags: "admin noscript loading stale", acl: "admin slow dangerous connection", keys: Keys::None, group: "connection", summary: "Set client eviction mode for the current connection", since: "7.0.0", handler: connection::client_no_evict, subcommands: &[] },
    Command { name: "help", arity: 2, flags: "loading stale", acl: "slow connection", keys: Keys::None, group: "connection", summary: "Show helpful text about the different subcommands", since: "5.0.0", handler: connection::client_help, subcommands: &[] },
];

#[rustfmt::skip]
const CONFIG_SUBCOMMANDS: &[Command] = &[
    Command { name: "get", arity: -3, flags: "admin noscript loading stale", acl: "admin slow dangerous", keys: Keys::None, group: "server", summary: "Get the values of configuration parameters", since: "2.0.0", handler: admin::config_get, subcommands: &[] },
    Command { name: "set", arity: -4, flags: "admin noscript loading stale", acl: "admin slow dangerous", keys: Keys::None, group: "server", summary: "Set configuration parameters to the given values", since: "2.0.0", handler: admin::config_set, subcommands: &[] },
    Command { name: "resetstat", arity: 2, flags: "admin noscript loading stale", acl: "admin slow dangerous", keys: Keys::None, group: "server", summary: "Reset the stats returned by INFO", since: "2.0.0", handler: admin::config_resetstat, subcommands: &[] },
    Command { name: "rewrite", arity: 2, flags: "admin noscript loading stale", acl: "admin slow dangerous", keys: Keys::None, group: "server", summary: "Rewrite the configuration file with the in memory configuration", since: "2.8.0", handler: admin::config_rewrite, subcommands: &[] },
    Command { name: "help", arity: 2, flags: "loading stale", acl: "slow", keys: Keys::None, group: "server", summary: "Show helpful text about the different subcommands", since: "5.0.0", handler: admin::config_help, subcommands: &[] },
];

#[rustfmt::skip]
const COMMAND_SUBCOMMANDS: &[Command] = &[
    Command { name: "count", arity: 2, flags: "loading stale", acl: "slow connection", keys: Keys::None, group: "server", summary: "Get total number of Redis commands", since: "2.8.13", handler: admin::command_count, subcommands: &[] },
    Command { name: "info", arity: -2, flags: "loading stale", acl: "slow connection", keys: Keys::None, group: "server", summary: "Get array of specific Redis command details, or all when no argument is given.", since: "2.8.13", handler: admin::command_info, subcommands: &[] },
    Command { name: "list", arity: -2, flags: "loading stale", acl: "slow connection", keys: Keys::None, group: "server", summary: "Get an array of Redis command names", since: "7.0.0", handler: admin::command_list, subcommands: &[] },
    Command { name: "docs", arity: -2, flags: "loading stale", acl: "slow connection", keys: Keys::None, group: "server", summary: "Get array of specific Redis command documentation", since: "7.0.0", handler: admin::command_docs, subcommands: &[] },
    Command { name: "getkeys", arity: -4, flags: "loading stale", acl: "slow connection", keys: Keys::None, group: "server", summary: "Extract keys given a full Redis command", since: "2.8.13", handler: admin::command_getkeys, subcommands: &[] },
    Command { name: "help", arity: 2, flags: "loading stale", acl: "slow connection", keys: Keys::None, group: "server", summary: "Show helpful text about the different subcommands", since: "5.0.0", handler: admin::command_help, subcommands: &[] },
];

#[rustfmt::skip]
const SLOWLOG_SUBCOMMANDS: &[Command] = &[
    Command { name: "get", arity: -2, flags: "admin loading stale", acl: "admin slow dangerous", keys: Keys::None, group: "server", summary: "Get the slow log's entries", since: "2.2.12", handler: admin::slowlog_get, subcommands: &[] },
    Command { name: "len", arity: 2, flags: "admin loading stale", acl: "admin slow dangerous", keys: Keys::None, group: "server", summary: "Get the slow log's length", since: "2.2.12", handler: admin::slowlog_len, subcommands: &[] },
    Command { name: "reset", arity: 2, flags: "admin loading stale", acl: "admin slow dangerous", keys: Keys::None, group: "server", summary: "Clear all entries from the slow log", since: "2.2.12", handler: admin::slowlog_reset, subcommands: &[] },
    Command { name: "help", arity: 2, flags: "loading stale", acl: "slow", keys: Keys::None, group: "server", summary: "Show helpful text about the different subcommands", since: "6.2.0", handler: admin::slowlog_help, subcommands: &[] },
];

#[rustfmt::skip]
const OBJECT_SUBCOMMANDS: &[Command] = &[
    Command { name: "encoding", arity: 3, flags: "readonly", acl: "keyspace read slow", keys: Keys::Range(2, 2, 1), group: "generic", summary: "Inspect the internal encoding of a Redis object", since: "2.2.3", handler: keys::object_encoding, subcommands: &[] },
    Command { name: "refcount", arity: 3, flags: "readonly", acl: "keyspace read slow", keys: Keys::Range(2, 2, 1), group: "generic", summary: "Get the number of references to the value of the key", since: "2.2.3", handler: keys::object_refcount, subcommands: &[] },
    Command { name: "idletime", arity: 3, flags: "readonly", acl: "keyspace read slow", keys: Keys::Range(2, 2, 1), group: "generic", summary: "Get the time since a Redis object was last accessed", since: "2.2.3", handler: keys::object_idletime, subcommands: &[] },
    Command { name: "freq", arity: 3, flags: "readonly", acl: "keyspace read slow", keys: Keys::Range(2, 2, 1), group: "generic", summary: "Get the logarithmic access frequency counter of a Redis object", since: "4.0.0", handler: keys::object_freq, subcommands: &[] },
    Command { name: "help", arity: 2, flags: "loading stale", acl: "keyspace slow", keys: Keys::None, group: "generic", summary: "Show helpful text about the different subcommands", since: "6.2.0", handler: keys::object_help, subcommands: &[] },
];

/// Every top-level command.
#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    // connection
    Command { name: "ping", arity: -1, flags: "fast", acl: "fast connection", keys: Keys::None, group: "connection", summary: "Ping the server", since: "1.0.0", handler: connection::ping, subcommands: &[] },
    Command { name: "echo", arity: 2, flags: "loading stale fast", acl: "fast connection", keys: Keys::None, group: "connection", summary: "Echo the given string", since: "1.0.0", handler: connection::echo, subcommands: &[] },
    Command { name: "quit", arity: -1, flags: "noscript loading stale fast no_auth allow_busy", acl: "fast connection", keys: Keys::None, group: "connection", summary: "Close the connection", since: "1.0.0", handler: connection::quit, subcommands: &[] },
    Command { name: "reset", arity: 1, flags: "noscript loading stale fast no_auth allow_busy", acl: "fast connection", keys: Keys::None, group: "connection", summary: "Reset the connection", since: "6.2.0", handler: connection::reset, subcommands: &[] },
    Command { name: "auth", arity: -2, flags: "noscript loading stale fast no_auth allow_busy", acl: "fast connection", keys: Keys::None, group: "connection", summary: "Authenticate to the server", since: "1.0.0", handler: connection::auth, subcommands: &[] },
    Command { name: "select", arity: 2, flags: "loading stale fast", acl: "fast connection", keys: Keys::None, group: "connection", summary: "Change the selected database for the current connection", since: "1.0.0", handler: connection::select, subcommands: &[] },
    Command { name: "hello", arity: -1, flags: "noscript loading stale fast no_auth allow_busy", acl: "fast connection", keys: Keys::None, group: "connection", summary: "Handshake with Redis", since: "6.0.0", handler: connection::hello, subcommands: &[] },
    Command { name: "client", arity: -2, flags: "", acl: "slow", keys: Keys::None, group: "connection", summary: "A container for client connection commands", since: "2.4.0", handler: container, subcommands: CLIENT_SUBCOMMANDS },
    // server
    Command { name: "info", arity: -1, flags: "loading stale", acl: "slow dangerous", keys: Keys::None, group: "server", summary: "Get information and statistics about the server", since: "1.0.0", handler: admin::info, subcommands: &[] },
    Command { name: "config", arity: -2, flags: "", acl: "slow", keys: Keys::None, group: "server", summary: "A container for server configuration commands", since: "2.0.0", handler: container, subcommands: CONFIG_SUBCOMMANDS },
    Command { name: "command", arity: -1, flags: "loading stale", acl: "slow connection", keys: Keys::None, group: "server", summary: "Get array of Redis command details", since: "2.8.13", handler: admin::command, subcommands: COMMAND_SUBCOMMANDS },
    Command { name: "debug", arity: -2, flags: "admin noscript loading stale", acl: "admin slow dangerous", keys: Keys::None, group: "server", summary: "A container for debugging commands", since: "1.0.0", handler: admin::debug, subcommands: &[] },
    Command { name: "time", arity: 1, flags: "loading stale fast", acl: "fast", keys: Keys::None, group: "server", summary: "Return the current server time", since: "2.6.0", handler: admin::time, subcommands: &[] },
    Command { name: "dbsize", arity: 1, flags: "readonly fast", acl: "keyspace read fast", keys: Keys::None, group: "server", summary: "Return the number of keys in the selected database", since: "1.0.0", handler: admin::dbsize, subcommands: &[] },
    Command { name: "lastsave", arity: 1, flags: "loading stale fast", acl: "admin fast dangerous", keys: Keys::None, group: "server", summary: "Get the UNIX time stamp of the last successful save to disk", since: "1.0.0", handler: admin::lastsave, subcommands: &[] },
    Command { name: "slowlog", arity: -2, flags: "", acl: "slow", keys: Keys::None, group: "server", summary: "A container for slow log commands", since: "2.2.12", handler: container, subcommands: SLOWLOG_SUBCOMMANDS },
    Command { name: "monitor", arity: 1, flags: "admin noscript loading stale", acl: "admin slow dangerous", keys: Keys::None, group: "server", summary: "Listen for all requests received by the server in real time", since: "1.0.0", handler: admin::monitor, subcommands: &[] },
    Command { name: "shutdown", arity: -1, flags: "admin noscript loading stale no_multi allow_busy", acl: "admin slow dangerous", keys: Keys::None, group: "server", summary: "Synchronously save the dataset to disk and then shut down the server", since: "1.0.0", handler: admin::shutdown, subcommands: &[] },
    // strings
    Command { name: "get", arity: 2, flags: "readonly fast", acl: "read string fast", keys: Keys::Range(1, 1, 1), group: "string", summary: "Get the value of a key", since: "1.0.0", handler: strings::get, subcommands: &[] },
    Command { name: "set", arity: -3, flags: "write denyoom", acl: "write string slow", keys: Keys::Range(1, 1, 1), group: "string", summary: "Set the string value of a key", since: "1.0.0", handler: strings::set, subcommands: &[] },
    Command { name: "setnx", arity: 3, flags: "write denyoom fast", acl: "write string fast", keys: Keys::Range(1, 1, 1), group: "string", summary: "Set the value of a key, only if the key does not exist", since: "1.0.0", handler: strings::setnx, subcommands: &[] },
    Command { name: "setex", arity: 4, flags: "write denyoom", acl: "write string slow", keys: Keys::Range(1, 1, 1), group: "string", summary: "Set the value and expiration of a key", since: "2.0.0", handler: strings::setex, subcommands: &[] },
    Command { name: "psetex", arity: 4, flags: "write denyoom", acl: "write string slow", keys: Keys::Range(1, 1, 1), group: "string", summary: "Set the value and expiration in milliseconds of a key", since: "2.6.0", handler: strings::psetex, subcommands: &[] },
    Command { name: "getset", arity: 3, flags: "write denyoom fast", acl: "write string fast", keys: Keys::Range(1, 1, 1), group: "string", summary: "Set the string value of a key and return its old value", since: "1.0.0", handler: strings::getset, subcommands: &[] },
    Command { name: "getdel", arity: 2, flags: "write fast", acl: "write string fast", keys: Keys::Range(1, 1, 1), group: "string", summary: "Get the value of a key and delete the key", since: "6.2.0", handler: strings::getdel, subcommands: &[] },
    Command { name: "getex", arity: -2, flags: "write fast", acl: "write string fast", keys: Keys::Range(1, 1, 1), group: "string", summary: "Get the value of a key and optionally set its expiration", since: "6.2.0", handler: strings::getex, subcommands: &[] },
    Command { name: "mget", arity: -2, flags: "readonly fast", acl: "read string fast", keys: Keys::Range(1, -1, 1), group: "string", summary: "Get the values of all the given keys", since: "1.0.0", handler: strings::mget, subcommands: &[] },
    Command { name: "mset", arity: -3, flags: "write denyoom", acl: "write string slow", keys: Keys::Range(1, -1, 2), group: "string", summary: "Set multiple keys to multiple values", since: "1.0.1", handler: strings::mset, subcommands: &[] },
    Command { name: "msetnx", arity: -3, flags: "write denyoom", acl: "write string slow", keys: Keys::Range(1, -1, 2), group: "string", summary: "Set multiple keys to multiple values, only if none of the keys exist", since: "1.0.1", handler: strings::msetnx, subcommands: &[] },
    Command { name: "strlen", arity: 2, flags: "readonly fast", acl: "read string fast", keys: Keys::Range(1, 1, 1), group: "string", summary: "Get the length of the value stored in a key", since: "2.2.0", handler: strings::strlen, subcommands: &[] },
    Command { name: "append", arity: 3, flags: "write denyoom fast", acl: "write string fast", keys: Keys::Range(1, 1, 1), group: "string", summary: "Append a value to a key", since: "2.0.0", handler: strings::append, subcommands: &[] },
    Command { name: "getrange", arity: 4, flags: "readonly", acl: "read string slow", keys: Keys::Range(1, 1, 1), group: "string", summary: "Get a substring of the string stored at a key", since: "2.4.0", handler: strings::getrange, subcommands: &[] },
    Command { name: "substr", arity: 4, flags: "readonly", acl: "read string slow", keys: Keys::Range(1, 1, 1), group: "string", summary: "Get a substring of the string stored at a key", since: "1.0.0", handler: strings::getrange, subcommands: &[] },
    Command { name: "setrange", arity: 4, flags: "write denyoom", acl: "write string slow", keys: Keys::Range(1, 1, 1), group: "string", summary: "Overwrite part of a string at key starting at the specified offset", since: "2.2.0", handler: strings::setrange, subcommands: &[] },
    Command { name: "incr", arity: 2, flags: "write denyoom fast", acl: "write string fast", keys: Keys::Range(1, 1, 1), group: "string", summary: "Increment the integer value of a key by one", since: "1.0.0", handler: strings::incr, subcommands: &[] },
    Command { name: "decr", arity: 2, flags: "write denyoom fast", acl: "write string fast", keys: Keys::Range(1, 1, 1), group: "string", summary: "Decrement the integer value of a key by one", since: "1.0.0", handler: strings::decr, subcommands: &[] },
    Command { name: "incrby", arity: 3, flags: "write denyoom fast", acl: "write string fast", keys: Keys::Range(1, 1, 1), group: "string", summary: "Increment the integer value of a key by the given amount", since: "1.0.0", handler: strings::incrby, subcommands: &[] },
    Command { name: "decrby", arity: 3, flags: "write denyoom fast", acl: "write string fast", keys: Keys::Range(1, 1, 1), group: "string", summary: "Decrement the integer value of a key by the given number", since: "1.0.0", handler: strings::decrby, subcommands: &[] },
    Command { name: "incrbyfloat", arity: 3, flags: "write denyoom fast", acl: "write string fast", keys: Keys::Range(1, 1, 1), group: "string", summary: "Increment the float value of a key by the given amount", since: "2.6.0", handler: strings::incrbyfloat, subcommands: &[] },
    // keyspace
    Command { name: "del", arity: -2, flags: "write", acl: "keyspace write slow", keys: Keys::Range(1, -1, 1), group: "generic", summary: "Delete a key", since: "1.0.0", handler: keys::del, subcommands: &[] },
    Command { name: "unlink", arity: -2, flags: "write fast", acl: "keyspace write fast", keys: Keys::Range(1, -1, 1), group: "generic", summary: "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.", since: "4.0.0", handler: keys::del, subcommands: &[] },
    Command { name: "exists", arity: -2, flags: "readonly fast", acl: "keyspace read fast", keys: Keys::Range(1, -1, 1), group: "generic", summary: "Determine if a key exists", since: "1.0.0", handler: keys::exists, subcommands: &[] },
    Command { name: "touch", arity: -2, flags: "readonly fast", acl: "keyspace read fast", keys: Keys::Range(1, -1, 1), group: "generic", summary: "Alters the last access time of a key(s). Returns the number of existing keys specified.", since: "3.2.1", handler: keys::touch, subcommands: &[] },
    Command { name: "type", arity: 2, flags: "readonly fast", acl: "keyspace read fast", keys: Keys::Range(1, 1, 1), group: "generic", summary: "Determine the type stored at key", since: "1.0.0", handler: keys::type_, subcommands: &[] },
    Command { name: "keys", arity: 2, flags: "readonly", acl: "keyspace read slow dangerous", keys: Keys::None, group: "generic", summary: "Find all keys matching the given pattern", since: "1.0.0", handler: keys::keys, subcommands: &[] },
    Command { name: "scan", arity: -2, flags: "readonly", acl: "keyspace read slow", keys: Keys::None, group: "generic", summary: "Incrementally iterate the keys space", since: "2.8.0", handler: keys::scan, subcommands: &[] },
    Command { name: "randomkey", arity: 1, flags: "readonly", acl: "keyspace read slow", keys: Keys::None, group: "generic", summary: "Return a random key from the keyspace", since: "1.0.0", handler: keys::randomkey, subcommands: &[] },
    Command { name: "rename", arity: 3, flags: "write", acl: "keyspace write slow", keys: Keys::Range(1, 2, 1), group: "generic", summary: "Rename a key", since: "1.0.0", handler: keys::rename, subcommands: &[] },
    Command { name: "renamenx", arity: 3, flags: "write fast", acl: "keyspace write fast", keys: Keys::Range(1, 2, 1), group: "generic", summary: "Rename a key, only if the new key does not exist", since: "1.0.0", handler: keys::renamenx, subcommands: &[] },
    Command { name: "expire", arity: -3, flags: "write fast", acl: "keyspace write fast", keys: Keys::Range(1, 1, 1), group: "generic", summary: "Set a key's time to live in seconds", since: "1.0.0", handler: keys::expire, subcommands: &[] },
    Command { name: "pexpire", arity: -3, flags: "write fast", acl: "keyspace write fast", keys: Keys::Range(1, 1, 1), group: "generic", summary: "Set a key's time to live in milliseconds", since: "2.6.0", handler: keys::pexpire, subcommands: &[] },
    Command { name: "expireat", arity: -3, flags: "write fast", acl: "keyspace write fast", keys: Keys::Range(1, 1, 1), group: "generic", summary: "Set the expiration for a key as a UNIX timestamp", since: "1.2.0", handler: keys::expireat, subcommands: &[] },
    Command { name: "pexpireat", arity: -3, flags: "write fast", acl: "keyspace write fast", keys: Keys::Range(1, 1, 1), group: "generic", summary: "Set the expiration for a key as a UNIX timestamp specified in milliseconds", since: "2.6.0", handler: keys::pexpireat, subcommands: &[] },
    Command { name: "ttl", arity: 2, flags: "readonly fast", acl: "keyspace read fast", keys: Keys::Range(1, 1, 1), group: "generic", summary: "Get the time to live for a key in seconds", since: "1.0.0", handler: keys::ttl, subcommands: &[] },
    Command { name: "pttl", arity: 2, flags: "readonly fast", acl: "keyspace read fast", keys: Keys::Range(1, 1, 1), group: "generic", summary: "Get the time to live for a key in milliseconds", since: "2.6.0", handler: keys::pttl, subcommands: &[] },
    Command { name: "expiretime", arity: 2, flags: "readonly fast", acl: "keyspace read fast", keys: Keys::Range(1, 1, 1), group: "generic", summary: "Get the expiration Unix timestamp for a key", since: "7.0.0", handler: keys::expiretime, subcommands: &[] },
    Command { name: "pexpiretime", arity: 2, flags: "readonly fast", acl: "keyspace read fast", keys: Keys::Range(1, 1, 1), group: "generic", summary: "Get the expiration Unix timestamp for a key in milliseconds", since: "7.0.0", handler: keys::pexpiretime, subcommands: &[] },
    Command { name: "persist", arity: 2, flags: "write fast", acl: "keyspace write fast", keys: Keys::Range(1, 1, 1), group: "generic", summary: "Remove the expiration from a key", since: "2.2.0", handler: keys::persist, subcommands: &[] },
    Command { name: "flushdb", arity: -1, flags: "write", acl: "keyspace write slow dangerous", keys: Keys::None, group: "server", summary: "Remove all keys from the current database", since: "1.0.0", handler: keys::flushdb, subcommands: &[] },
    Command { name: "flushall", arity: -1, flags: "write", acl: "keyspace write slow dangerous", keys: Keys::None, group: "server", summary: "Remove all keys from all databases", since: "1.0.0", handler: keys::flushall, subcommands: &[] },
    Command { name: "swapdb", arity: 3, flags: "write fast", acl: "keyspace write fast dangerous", keys: Keys::None, group: "server", summary: "Swaps two Redis databases", since: "4.0.0", handler: keys::swapdb, subcommands: &[] },
    Command { name: "move", arity: 3, flags: "write fast", acl: "keyspace write fast", keys: Keys::Range(1, 1, 1), group: "generic", summary: "Move a key to another database", since: "1.0.0", handler: keys::move_, subcommands: &[] },
    Command { name: "object", arity: -2, flags: "", acl: "slow", keys: Keys::None, group: "generic", summary: "A container for object introspection commands", since: "2.2.3", handler: container, subcommands: OBJECT_SUBCOMMANDS },
    // lists
    Command { name: "lpush", arity: -3, flags: "write denyoom fast", acl: "write list fast", keys: Keys::Range(1, 1, 1), group: "list", summary: "Prepend one or multiple elements to a list", since: "1.0.0", handler: list::lpush, subcommands: &[] },
    Command { name: "rpush", arity: -3, flags: "write denyoom fast", acl: "write list fast", keys: Keys::Range(1, 1, 1), group: "list", summary: "Append one or multiple elements to a list", since: "1.0.0", handler: list::rpush, subcommands: &[] },
    Command { name: "lpushx", arity: -3, flags: "write denyoom fast", acl: "write list fast", keys: Keys::Range(1, 1, 1), group: "list", summary: "Prepend an element to a list, only if the list exists", since: "2.2.0", handler: list::lpushx, subcommands: &[] },
    Command { name: "rpushx", arity: -3, flags: "write denyoom fast", acl: "write list fast", keys: Keys::Range(1, 1, 1), group: "list", summary: "Append an element to a list, only if the list exists", since: "2.2.0", handler: list::rpushx, subcommands: &[] },
    Command { name: "lpop", arity: -2, flags: "write fast", acl: "write list fast", keys: Keys::Range(1, 1, 1), group: "list", summary: "Remove and get the first elements in a list", since: "1.0.0", handler: list::lpop, subcommands: &[] },
    Command { name: "rpop", arity: -2, flags: "write fast", acl: "write list fast", keys: Keys::Range(1, 1, 1), group: "list", summary: "Remove and get the last elements in a list", since: "1.0.0", handler: list::rpop, subcommands: &[] },
    Command { name: "llen", arity: 2, flags: "readonly fast", acl: "read list fast", keys: Keys::Range(1, 1, 1), group: "list", summary: "Get the length of a list", since: "1.0.0", handler: list::llen, subcommands: &[] },
    Command { name: "lrange", arity: 4, flags: "readonly", acl: "read list slow", keys: Keys::Range(1, 1, 1), group: "list", summary: "Get a range of elements from a list", since: "1.0.0", handler: list::lrange, subcommands: &[] },
    Command { name: "lindex", arity: 3, flags: "readonly", acl: "read list slow", keys: Keys::Range(1, 1, 1), group: "list", summary: "Get an element from a list by its index", since: "1.0.0", handler: list::lindex, subcommands: &[] },
    Command { name: "lset", arity: 4, flags: "write denyoom", acl: "write list slow", keys: Keys::Range(1, 1, 1), group: "list", summary: "Set the value of an element in a list by its index", since: "1.0.0", handler: list::lset, subcommands: &[] },
    Command { name: "linsert", arity: 5, flags: "write denyoom", acl: "write list slow", keys: Keys::Range(1, 1, 1), group: "list", summary: "Insert an element before or after another element in a list", since: "2.2.0", handler: list::linsert, subcommands: &[] },
    Command { name: "lrem", arity: 4, flags: "write", acl: "write list slow", keys: Keys::Range(1, 1, 1), group: "list", summary: "Remove elements from a list", since: "1.0.0", handler: list::lrem, subcommands: &[] },
    Command { name: "ltrim", arity: 4, flags: "write", acl: "write list slow", keys: Keys::Range(1, 1, 1), group: "list", summary: "Trim a list to the specified range", since: "1.0.0", handler: list::ltrim, subcommands: &[] },
    Command { name: "lpos", arity: -3, flags: "readonly", acl: "read list slow", keys: Keys::Range(1, 1, 1), group: "list", summary: "Return the index of matching elements on a list", since: "6.0.6", handler: list::lpos, subcommands: &[] },
    Command { name: "lmove", arity: 5, flags: "write denyoom", acl: "write list slow", keys: Keys::Range(1, 2, 1), group: "list", summary: "Pop an element from a list, push it to another list and return it", since: "6.2.0", handler: list::lmove, subcommands: &[] },
    Command { name: "rpoplpush", arity: 3, flags: "write denyoom", acl: "write list slow", keys: Keys::Range(1, 2, 1), group: "list", summary: "Remove the last element in a list, prepend it to another list and return it", since: "1.2.0", handler: list::rpoplpush, subcommands: &[] },
    Command { name: "lmpop", arity: -4, flags: "write", acl: "write list slow", keys: Keys::NumKeys { numkeys_at: 1, dest_first: false }, group: "list", summary: "Pop elements from a list", since: "7.0.0", handler: list::lmpop, subcommands: &[] },
    Command { name: "blpop", arity: -3, flags: "write noscript blocking", acl: "write list slow blocking", keys: Keys::Range(1, -2, 1), group: "list", summary: "Remove and get the first element in a list, or block until one is available", since: "2.0.0", handler: list::blpop, subcommands: &[] },
    Command { name: "brpop", arity: -3, flags: "write noscript blocking", acl: "write list slow blocking", keys: Keys::Range(1, -2, 1), group: "list", summary: "Remove and get the last element in a list, or block until one is available", since: "2.0.0", handler: list::brpop, subcommands: &[] },
    Command { name: "blmove", arity: 6, flags: "write denyoom noscript blocking", acl: "write list slow blocking", keys: Keys::Range(1, 2, 1), group: "list", summary: "Pop an element from a list, push it to another list and return it; or block until one is available", since: "6.2.0", handler: list::blmove, subcommands: &[] },
    Command { name: "brpoplpush", arity: 4, flags: "write denyoom noscript blocking", acl: "write list slow blocking", keys: Keys::Range(1, 2, 1), group: "list", summary: "Pop an element from a list, push it to another list and return it; or block until one is available", since: "2.2.0", handler: list::brpoplpush, subcommands: &[] },
    Command { name: "blmpop", arity: -5, flags: "write blocking", acl: "write list slow blocking", keys: Keys::NumKeys { numkeys_at: 2, dest_first: false }, group: "list", summary: "Pop elements from a list, or block until one is available", since: "7.0.0", handler: list::blmpop, subcommands: &[] },
];
