//! THE command table: every command tine serves, with Redis 7.0's arity, flags, ACL
//! categories, key positions, group, summary and version (rows are printed from a real
//! redis-server by `scripts/command-row`, then pointed at tine's handler). The registry in
//! `mod.rs` is built from this list; nothing else defines a command.

use super::{Command, Keys, admin, connection, hash, keys, set, strings};

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
    // hashes
    Command { name: "hset", arity: -4, flags: "write denyoom fast", acl: "write hash fast", keys: Keys::Range(1, 1, 1), group: "hash", summary: "Set the string value of a hash field", since: "2.0.0", handler: hash::hset, subcommands: &[] },
    Command { name: "hsetnx", arity: 4, flags: "write denyoom fast", acl: "write hash fast", keys: Keys::Range(1, 1, 1), group: "hash", summary: "Set the value of a hash field, only if the field does not exist", since: "2.0.0", handler: hash::hsetnx, subcommands: &[] },
    Command { name: "hmset", arity: -4, flags: "write denyoom fast", acl: "write hash fast", keys: Keys::Range(1, 1, 1), group: "hash", summary: "Set multiple hash fields to multiple values", since: "2.0.0", handler: hash::hmset, subcommands: &[] },
    Command { name: "hget", arity: 3, flags: "readonly fast", acl: "read hash fast", keys: Keys::Range(1, 1, 1), group: "hash", summary: "Get the value of a hash field", since: "2.0.0", handler: hash::hget, subcommands: &[] },
    Command { name: "hmget", arity: -3, flags: "readonly fast", acl: "read hash fast", keys: Keys::Range(1, 1, 1), group: "hash", summary: "Get the values of all the given hash fields", since: "2.0.0", handler: hash::hmget, subcommands: &[] },
    Command { name: "hdel", arity: -3, flags: "write fast", acl: "write hash fast", keys: Keys::Range(1, 1, 1), group: "hash", summary: "Delete one or more hash fields", since: "2.0.0", handler: hash::hdel, subcommands: &[] },
    Command { name: "hlen", arity: 2, flags: "readonly fast", acl: "read hash fast", keys: Keys::Range(1, 1, 1), group: "hash", summary: "Get the number of fields in a hash", since: "2.0.0", handler: hash::hlen, subcommands: &[] },
    Command { name: "hexists", arity: 3, flags: "readonly fast", acl: "read hash fast", keys: Keys::Range(1, 1, 1), group: "hash", summary: "Determine if a hash field exists", since: "2.0.0", handler: hash::hexists, subcommands: &[] },
    Command { name: "hgetall", arity: 2, flags: "readonly", acl: "read hash slow", keys: Keys::Range(1, 1, 1), group: "hash", summary: "Get all the fields and values in a hash", since: "2.0.0", handler: hash::hgetall, subcommands: &[] },
    Command { name: "hkeys", arity: 2, flags: "readonly", acl: "read hash slow", keys: Keys::Range(1, 1, 1), group: "hash", summary: "Get all the fields in a hash", since: "2.0.0", handler: hash::hkeys, subcommands: &[] },
    Command { name: "hvals", arity: 2, flags: "readonly", acl: "read hash slow", keys: Keys::Range(1, 1, 1), group: "hash", summary: "Get all the values in a hash", since: "2.0.0", handler: hash::hvals, subcommands: &[] },
    Command { name: "hincrby", arity: 4, flags: "write denyoom fast", acl: "write hash fast", keys: Keys::Range(1, 1, 1), group: "hash", summary: "Increment the integer value of a hash field by the given number", since: "2.0.0", handler: hash::hincrby, subcommands: &[] },
    Command { name: "hincrbyfloat", arity: 4, flags: "write denyoom fast", acl: "write hash fast", keys: Keys::Range(1, 1, 1), group: "hash", summary: "Increment the float value of a hash field by the given amount", since: "2.6.0", handler: hash::hincrbyfloat, subcommands: &[] },
    Command { name: "hstrlen", arity: 3, flags: "readonly fast", acl: "read hash fast", keys: Keys::Range(1, 1, 1), group: "hash", summary: "Get the length of the value of a hash field", since: "3.2.0", handler: hash::hstrlen, subcommands: &[] },
    Command { name: "hrandfield", arity: -2, flags: "readonly", acl: "read hash slow", keys: Keys::Range(1, 1, 1), group: "hash", summary: "Get one or multiple random fields from a hash", since: "6.2.0", handler: hash::hrandfield, subcommands: &[] },
    Command { name: "hscan", arity: -3, flags: "readonly", acl: "read hash slow", keys: Keys::Range(1, 1, 1), group: "hash", summary: "Incrementally iterate hash fields and associated values", since: "2.8.0", handler: hash::hscan, subcommands: &[] },
    // sets
    Command { name: "sadd", arity: -3, flags: "write denyoom fast", acl: "write set fast", keys: Keys::Range(1, 1, 1), group: "set", summary: "Add one or more members to a set", since: "1.0.0", handler: set::sadd, subcommands: &[] },
    Command { name: "srem", arity: -3, flags: "write fast", acl: "write set fast", keys: Keys::Range(1, 1, 1), group: "set", summary: "Remove one or more members from a set", since: "1.0.0", handler: set::srem, subcommands: &[] },
    Command { name: "smembers", arity: 2, flags: "readonly", acl: "read set slow", keys: Keys::Range(1, 1, 1), group: "set", summary: "Get all the members in a set", since: "1.0.0", handler: set::smembers, subcommands: &[] },
    Command { name: "sismember", arity: 3, flags: "readonly fast", acl: "read set fast", keys: Keys::Range(1, 1, 1), group: "set", summary: "Determine if a given value is a member of a set", since: "1.0.0", handler: set::sismember, subcommands: &[] },
    Command { name: "smismember", arity: -3, flags: "readonly fast", acl: "read set fast", keys: Keys::Range(1, 1, 1), group: "set", summary: "Returns the membership associated with the given elements for a set", since: "6.2.0", handler: set::smismember, subcommands: &[] },
    Command { name: "scard", arity: 2, flags: "readonly fast", acl: "read set fast", keys: Keys::Range(1, 1, 1), group: "set", summary: "Get the number of members in a set", since: "1.0.0", handler: set::scard, subcommands: &[] },
    Command { name: "spop", arity: -2, flags: "write fast", acl: "write set fast", keys: Keys::Range(1, 1, 1), group: "set", summary: "Remove and return one or multiple random members from a set", since: "1.0.0", handler: set::spop, subcommands: &[] },
    Command { name: "srandmember", arity: -2, flags: "readonly", acl: "read set slow", keys: Keys::Range(1, 1, 1), group: "set", summary: "Get one or multiple random members from a set", since: "1.0.0", handler: set::srandmember, subcommands: &[] },
    Command { name: "smove", arity: 4, flags: "write fast", acl: "write set fast", keys: Keys::Range(1, 2, 1), group: "set", summary: "Move a member from one set to another", since: "1.0.0", handler: set::smove, subcommands: &[] },
    Command { name: "sinter", arity: -2, flags: "readonly", acl: "read set slow", keys: Keys::Range(1, -1, 1), group: "set", summary: "Intersect multiple sets", since: "1.0.0", handler: set::sinter, subcommands: &[] },
    Command { name: "sintercard", arity: -3, flags: "readonly", acl: "read set slow", keys: Keys::NumKeys { numkeys_at: 1, dest_first: false }, group: "set", summary: "Intersect multiple sets and return the cardinality of the result", since: "7.0.0", handler: set::sintercard, subcommands: &[] },
    Command { name: "sinterstore", arity: -3, flags: "write denyoom", acl: "write set slow", keys: Keys::Range(1, -1, 1), group: "set", summary: "Intersect multiple sets and store the resulting set in a key", since: "1.0.0", handler: set::sinterstore, subcommands: &[] },
    Command { name: "sunion", arity: -2, flags: "readonly", acl: "read set slow", keys: Keys::Range(1, -1, 1), group: "set", summary: "Add multiple sets", since: "1.0.0", handler: set::sunion, subcommands: &[] },
    Command { name: "sunionstore", arity: -3, flags: "write denyoom", acl: "write set slow", keys: Keys::Range(1, -1, 1), group: "set", summary: "Add multiple sets and store the resulting set in a key", since: "1.0.0", handler: set::sunionstore, subcommands: &[] },
    Command { name: "sdiff", arity: -2, flags: "readonly", acl: "read set slow", keys: Keys::Range(1, -1, 1), group: "set", summary: "Subtract multiple sets", since: "1.0.0", handler: set::sdiff, subcommands: &[] },
    Command { name: "sdiffstore", arity: -3, flags: "write denyoom", acl: "write set slow", keys: Keys::Range(1, -1, 1), group: "set", summary: "Subtract multiple sets and store the resulting set in a key", since: "1.0.0", handler: set::sdiffstore, subcommands: &[] },
    Command { name: "sscan", arity: -3, flags: "readonly", acl: "read set slow", keys: Keys::Range(1, 1, 1), group: "set", summary: "Incrementally iterate Set elements", since: "2.8.0", handler: set::sscan, subcommands: &[] },
];
