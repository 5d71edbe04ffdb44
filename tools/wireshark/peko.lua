-- peko.lua: a Wireshark dissector for peko's wire format, version 2
-- (docs/wire.md).
--
-- Load it with `wireshark -X lua_script:tools/wireshark/peko.lua` (or
-- tshark), or copy it into ~/.local/lib/wireshark/plugins/. See
-- docs/wireshark.md for the fields and preferences.
--
-- What it does:
--   * UDP: one datagram is one packet.
--   * TCP: a stream of packets, each either preceded by a 4-byte big-endian
--     length (the socket transport's framing) or bare (the simulator's
--     capture writes the packet bytes as they are); the two are told apart
--     per message, since a length prefix can never begin with the magic
--     bytes 50 4b (that would be a message of over 1.3 GB). Messages split
--     over segments are reassembled (dissect_tcp_pdus).
--   * Registered on the ports of the "Ports" preference (default 8000, the
--     simulator's port), UDP and TCP, plus heuristic dissectors on UDP and
--     TCP that recognise the header on any port.
--   * Every field of every message type is decoded, a swap's digest
--     entries one by one. The checks of docs/wire.md ("Decoding: order of
--     checks") are made in the decoder's order, each failed check is an
--     expert item named after the decoder's rejection reason, and the
--     first one is the packet's verdict (peko.reject), the reason a
--     receiver would give; a packet that cannot be read further is shown
--     up to where it broke. Bounds are checked before every read, and the
--     dissection runs under pcall, so no input makes a Lua error.
--   * The trailer of a signed packet is shown (the sender's incarnation,
--     the receiver tag, the packet number, the HMAC); with the "Secret
--     key" preference set, its key id is compared and the MAC verified
--     (HMAC-SHA256 in Lua).
--   * Replays (the "Replays" preference): a signed packet whose sender,
--     receiver tag and packet number an earlier frame of the capture
--     carried, or whose receiver tag names an earlier incarnation of the
--     node it goes to (learnt from that node's own packets), is judged
--     `replay`, as its receiver would (docs/wire.md, "Freshness").
--
-- Works with the Lua 5.2 of Wireshark 3.x/4.0 (bit32) and with Lua 5.3/5.4
-- (native bit operators).

local peko = Proto("peko", "peko gossip protocol")

local WIRE_VERSION = 2
local HEADER_BYTES = 12
-- A signed packet's trailer: the sender's incarnation (u32), the receiver
-- tag (u32) and the packet number (u64), then the MAC over everything
-- before it.
local FRESHNESS_BYTES = 16
local MAC_BYTES = 32
local TRAILER_BYTES = FRESHNESS_BYTES + MAC_BYTES
local FLAG_MAC = 0x01
local SWAP_META = 0x01    -- swap flags: the metadata blob follows
local SWAP_RANGE = 0x02   -- swap flags: a fingerprint range follows
local ENTRY_FULL = 0x01   -- digest entry flags: name and data follow
local DEFAULT_PORTS = "8000"
local DEFAULT_SIZE = 16384
local RING = 4294967296   -- 2^32 fingerprints

-- ------------------------------------------------------------------
-- 32-bit arithmetic on any Lua Wireshark ships with.

local band, bor, bxor, bnot, rshift, lshift
if bit32 then
    band, bor, bxor, bnot = bit32.band, bit32.bor, bit32.bxor, bit32.bnot
    rshift, lshift = bit32.rshift, bit32.lshift
else
    -- Lua 5.3 and later: native operators, compiled at run time so that
    -- Lua 5.2 never has to parse them. band, bor and bxor take two or
    -- three operands, as used here (bit32's take any number).
    local ops = load([[
        local M = 0xffffffff
        return function(a, b, c) return (a & b & (c or M)) & M end,
               function(a, b, c) return (a | b | (c or 0)) & M end,
               function(a, b, c) return (a ~ b ~ (c or 0)) & M end,
               function(a) return (~a) & M end,
               function(a, n) return ((a & M) >> n) & M end,
               function(a, n) return ((a & M) << n) & M end
    ]])
    band, bor, bxor, bnot, rshift, lshift = ops()
end

local rrotate
if bit32 then
    rrotate = bit32.rrotate
else
    rrotate = function(x, n) return bor(rshift(x, n), lshift(x, 32 - n)) end
end

-- a * b mod 2^32 without losing bits in a double (both < 2^32).
local function mul32(a, b)
    local lo = b % 65536
    local hi = (b - lo) / 65536
    return (a * lo + ((a * hi) % 65536) * 65536) % 4294967296
end

-- ------------------------------------------------------------------
-- The address fingerprint (docs/wire.md, "Fingerprint"): FNV-1a over the
-- address as encoded, then MurmurHash3's fmix32; 0 becomes 1.

local function fingerprint(raw)
    local h = 0x811c9dc5
    for i = 1, #raw do
        h = mul32(bxor(h, raw:byte(i)), 0x01000193)
    end
    h = bxor(h, rshift(h, 16))
    h = mul32(h, 0x85ebca6b)
    h = bxor(h, rshift(h, 13))
    h = mul32(h, 0xc2b2ae35)
    h = bxor(h, rshift(h, 16))
    if h == 0 then h = 1 end
    return h
end

-- ------------------------------------------------------------------
-- SHA-256 and HMAC-SHA256 (FIPS 180-4, RFC 2104), only used when a key is
-- configured.

local K256 = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}

-- Runs the compression function over the 64-byte blocks of `msg` from
-- byte `first` on, updating the state h (8 words) in place.
local W = {}
local function sha256_blocks(h, msg, first)
    local w = W
    for chunk = first, #msg, 64 do
        for i = 0, 15 do
            local a, b, c, d = msg:byte(chunk + 4 * i, chunk + 4 * i + 3)
            w[i] = ((a * 256 + b) * 256 + c) * 256 + d
        end
        for i = 16, 63 do
            local x, y = w[i - 15], w[i - 2]
            local s0 = bxor(rrotate(x, 7), rrotate(x, 18), rshift(x, 3))
            local s1 = bxor(rrotate(y, 17), rrotate(y, 19), rshift(y, 10))
            w[i] = (w[i - 16] + s0 + w[i - 7] + s1) % 4294967296
        end
        local a, b, c, d, e, f, g, hh =
            h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]
        for i = 0, 63 do
            local S1 = bxor(rrotate(e, 6), rrotate(e, 11), rrotate(e, 25))
            local ch = bxor(band(e, f), band(bnot(e), g))
            local t1 = hh + S1 + ch + K256[i + 1] + w[i]
            local S0 = bxor(rrotate(a, 2), rrotate(a, 13), rrotate(a, 22))
            local maj = bxor(band(a, b), band(a, c), band(b, c))
            hh, g, f, e, d, c, b, a = g, f, e, (d + t1) % 4294967296, c, b,
                                      a, (t1 + S0 + maj) % 4294967296
        end
        h[1], h[2] = (h[1] + a) % 4294967296, (h[2] + b) % 4294967296
        h[3], h[4] = (h[3] + c) % 4294967296, (h[4] + d) % 4294967296
        h[5], h[6] = (h[5] + e) % 4294967296, (h[6] + f) % 4294967296
        h[7], h[8] = (h[7] + g) % 4294967296, (h[8] + hh) % 4294967296
    end
end

local SHA256_INIT = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}

-- Finishes a hash whose state h has absorbed `done` bytes before msg
-- (a multiple of 64): pads, compresses, returns the 32-byte digest.
local function sha256_finish(h0, done, msg)
    local h = {h0[1], h0[2], h0[3], h0[4], h0[5], h0[6], h0[7], h0[8]}
    local n = #msg
    local bits = (done + n) * 8
    local tail = {}
    for i = 7, 0, -1 do
        tail[#tail + 1] = string.char(math.floor(bits / 2 ^ (8 * i)) % 256)
    end
    msg = msg .. "\128" .. string.rep("\0", (55 - n) % 64) ..
          table.concat(tail)
    sha256_blocks(h, msg, 1)
    local out = {}
    for i = 1, 8 do
        local v = h[i]
        out[i] = string.char(math.floor(v / 16777216) % 256,
                             math.floor(v / 65536) % 256,
                             math.floor(v / 256) % 256, v % 256)
    end
    return table.concat(out)
end

local function sha256(msg)
    return sha256_finish(SHA256_INIT, 0, msg)
end

local function xor_pad(key, byte)
    local t = {}
    for i = 1, 64 do
        t[i] = string.char(bxor(key:byte(i) or 0, byte))
    end
    return table.concat(t)
end

-- An HMAC-SHA256 key: the states after the inner and outer pads, so each
-- MAC costs only the message's blocks and two more.
local function hmac_key(key)
    if #key > 64 then key = sha256(key) end
    local inner, outer = {}, {}
    for i = 1, 8 do inner[i], outer[i] = SHA256_INIT[i], SHA256_INIT[i] end
    sha256_blocks(inner, xor_pad(key, 0x36), 1)
    sha256_blocks(outer, xor_pad(key, 0x5c), 1)
    return {inner = inner, outer = outer}
end

local function hmac_sha256(k, msg)
    return sha256_finish(k.outer, 64, sha256_finish(k.inner, 64, msg))
end

-- The key id of a secret: the first byte of SHA-256("peko-key-id:" .. key).
local function key_id_of(secret)
    return sha256("peko-key-id:" .. secret):byte(1)
end

-- ------------------------------------------------------------------
-- Fields.

local msg_types = {
    [1] = "Heartbeat",
    [2] = "Metadata",
    [3] = "Swap request",
    [4] = "Swap response",
    [5] = "Challenge",
    [6] = "Echo",
}
local families = {[4] = "IPv4", [6] = "IPv6"}
local mac_states = {
    [0] = "not verified (no key in the preferences)",
    [1] = "verified",
    [2] = "bad: does not verify under the configured key",
    [3] = "not verified: key id differs from the configured key's",
}

local f = {
    frame_len = ProtoField.uint32("peko.frame_len", "Frame length",
        base.DEC, nil, nil, "TCP framing: bytes of the packet that follows"),
    magic = ProtoField.uint16("peko.magic", "Magic", base.HEX),
    version = ProtoField.uint8("peko.version", "Version", base.DEC),
    type = ProtoField.uint8("peko.type", "Type", base.DEC, msg_types),
    flags = ProtoField.uint8("peko.flags", "Flags", base.HEX),
    flags_mac = ProtoField.bool("peko.flags.mac", "Trailer (HMAC)", 8,
        {"present", "absent"}, FLAG_MAC),
    flags_rsv = ProtoField.uint8("peko.flags.reserved", "Reserved flag bits",
        base.HEX, nil, 0xfe),
    key_id = ProtoField.uint8("peko.key_id", "Key id", base.HEX),
    hops = ProtoField.uint8("peko.hops", "Hops", base.DEC),
    reserved = ProtoField.uint8("peko.reserved", "Reserved", base.HEX),
    body_len = ProtoField.uint32("peko.body_len", "Body length", base.DEC),

    sender = ProtoField.string("peko.sender", "Sender"),
    origin = ProtoField.string("peko.origin", "Origin"),
    addr_family = ProtoField.uint8("peko.addr.family", "Family", base.DEC,
        families),
    addr_ip = ProtoField.ipv4("peko.addr.ip", "IPv4 address"),
    addr_ip6 = ProtoField.ipv6("peko.addr.ip6", "IPv6 address"),
    addr_port = ProtoField.uint16("peko.addr.port", "Port", base.DEC),
    addr_fp = ProtoField.uint32("peko.addr.fingerprint", "Fingerprint",
        base.HEX),

    incarnation = ProtoField.uint32("peko.incarnation", "Incarnation",
        base.DEC),
    seq = ProtoField.uint32("peko.seq", "Sequence", base.DEC),
    rev = ProtoField.uint16("peko.rev", "Record version", base.DEC, nil,
        nil, "Version of the origin's record (name and data)"),
    name_len = ProtoField.uint16("peko.name_len", "Name length", base.DEC),
    name = ProtoField.string("peko.name", "Name"),
    data_len = ProtoField.uint16("peko.data_len", "Data length", base.DEC),
    data = ProtoField.bytes("peko.data", "Data"),
    data_text = ProtoField.string("peko.data.text", "Data (text)"),

    sent_us = ProtoField.uint64("peko.swap.sent_us",
        "Sent at (sender's wall clock, us since 1970)", base.DEC),
    echo_us = ProtoField.uint64("peko.swap.echo_us",
        "Request sent at (returned, us since 1970)", base.DEC),
    counter = ProtoField.uint64("peko.meta.counter", "Version counter",
        base.DEC),
    vorigin = ProtoField.string("peko.meta.origin", "Version origin"),
    meta_len = ProtoField.uint32("peko.meta_len", "Metadata length",
        base.DEC),
    meta = ProtoField.bytes("peko.meta", "Metadata"),
    meta_text = ProtoField.string("peko.meta.text", "Metadata (text)"),

    n_infected = ProtoField.uint32("peko.n_infected", "Infected entries",
        base.DEC),
    infected = ProtoField.uint32("peko.infected", "Fingerprint", base.HEX),

    swap_flags = ProtoField.uint8("peko.swap.flags", "Swap flags", base.HEX),
    swap_flags_meta = ProtoField.bool("peko.swap.flags.meta", "Metadata", 8,
        {"follows", "absent (version only)"}, SWAP_META),
    swap_flags_range = ProtoField.bool("peko.swap.flags.range", "Range", 8,
        {"follows", "absent"}, SWAP_RANGE),
    swap_flags_rsv = ProtoField.uint8("peko.swap.flags.reserved",
        "Reserved flag bits", base.HEX, nil, 0xfc),
    range = ProtoField.none("peko.range", "Range", "A cyclic, inclusive " ..
        "range of fingerprints"),
    range_first = ProtoField.uint32("peko.range.first", "First", base.HEX),
    range_last = ProtoField.uint32("peko.range.last", "Last", base.HEX),
    range_count = ProtoField.uint64("peko.range.fingerprints",
        "Fingerprints in the range", base.DEC),
    range_wraps = ProtoField.bool("peko.range.wraps",
        "Wraps past 0xffffffff"),
    n_entries = ProtoField.uint16("peko.n_entries", "Digest entries",
        base.DEC),
    entry = ProtoField.none("peko.entry", "Digest entry"),
    entry_flags = ProtoField.uint8("peko.entry.flags", "Entry flags",
        base.HEX),
    entry_flags_full = ProtoField.bool("peko.entry.flags.full", "Full", 8,
        {"yes, name and data follow", "no, version only"}, ENTRY_FULL),
    entry_flags_rsv = ProtoField.uint8("peko.entry.flags.reserved",
        "Reserved flag bits", base.HEX, nil, 0xfe),
    entry_addr = ProtoField.string("peko.entry.addr", "Node"),
    entry_inc = ProtoField.uint32("peko.entry.incarnation", "Incarnation",
        base.DEC),
    entry_seq = ProtoField.uint32("peko.entry.seq", "Sequence", base.DEC,
        nil, nil, "The node's newest heartbeat the sender knows of"),
    entry_rev = ProtoField.uint16("peko.entry.rev", "Record version",
        base.DEC),
    entry_name_len = ProtoField.uint16("peko.entry.name_len", "Name length",
        base.DEC),
    entry_name = ProtoField.string("peko.entry.name", "Name"),
    entry_data_len = ProtoField.uint16("peko.entry.data_len", "Data length",
        base.DEC),
    entry_data = ProtoField.bytes("peko.entry.data", "Data"),
    entry_data_text = ProtoField.string("peko.entry.data.text",
        "Data (text)"),
    entry_in_range = ProtoField.bool("peko.entry.in_range",
        "Fingerprint in the range"),

    nonce = ProtoField.uint64("peko.nonce", "Nonce", base.HEX),
    challenge_in = ProtoField.framenum("peko.challenge_in",
        "Challenge in frame", base.NONE,
        frametype and frametype.REQUEST or nil, nil,
        "The challenge with this nonce, earlier in the capture"),

    trailer_inc = ProtoField.uint32("peko.trailer.incarnation",
        "Sender's incarnation", base.DEC),
    trailer_receiver = ProtoField.uint32("peko.trailer.receiver",
        "Receiver tag", base.HEX, nil, nil,
        "Hash of the receiver's address and incarnation as the sender " ..
        "knows them; 0 in a hello"),
    trailer_receiver_inc = ProtoField.uint32(
        "peko.trailer.receiver.incarnation", "Receiver's incarnation",
        base.DEC, nil, nil, "The incarnation of the destination that the " ..
        "receiver tag names, among those its own packets showed"),
    trailer_number = ProtoField.uint64("peko.trailer.number",
        "Packet number", base.DEC, nil, nil,
        "The sender's packet number: one sequence for all its signed " ..
        "packets, from its wall clock in microseconds at its start"),
    replay_of = ProtoField.framenum("peko.replay_of", "Replay of frame",
        base.NONE, nil, nil,
        "The earlier frame with the same sender, receiver tag and number"),
    mac = ProtoField.bytes("peko.mac", "HMAC-SHA256"),
    mac_status = ProtoField.uint8("peko.mac.status", "MAC", base.DEC,
        mac_states),
    length = ProtoField.uint32("peko.length", "Packet length", base.DEC),
    reject = ProtoField.string("peko.reject", "Rejected as", base.ASCII,
        "The reason a receiver gives for rejecting this packet " ..
        "(peko_reject_name)"),
    reject_why = ProtoField.string("peko.reject.why", "Because", base.ASCII,
        "The first failed check, as its expert item says it"),
}
peko.fields = f

local PI_M, PI_E, PI_W, PI_N = expert.group.MALFORMED,
    expert.severity.ERROR, expert.severity.WARN, expert.severity.NOTE

local ex = {
    truncated = ProtoExpert.new("peko.truncated", "Truncated", PI_M, PI_E),
    bad_magic = ProtoExpert.new("peko.bad_magic", "Bad magic", PI_M, PI_E),
    bad_version = ProtoExpert.new("peko.bad_version", "Unknown version",
        PI_M, PI_E),
    bad_type = ProtoExpert.new("peko.bad_type", "Unknown message type",
        PI_M, PI_E),
    bad_flags = ProtoExpert.new("peko.bad_flags", "Bad flags", PI_M, PI_E),
    bad_address = ProtoExpert.new("peko.bad_address",
        "Unknown address family", PI_M, PI_E),
    bad_set = ProtoExpert.new("peko.bad_set",
        "Infected set not strictly ascending", PI_M, PI_E),
    trailing = ProtoExpert.new("peko.trailing", "Trailing bytes", PI_M,
        PI_E),
    framing = ProtoExpert.new("peko.framing",
        "TCP frame length does not match the packet", PI_M, PI_E),
    oversize = ProtoExpert.new("peko.oversize",
        "Longer than the Size preference", expert.group.PROTOCOL, PI_W),
    bad_length = ProtoExpert.new("peko.bad_length",
        "Body length too large for the Size preference",
        expert.group.PROTOCOL, PI_W),
    bad_mac = ProtoExpert.new("peko.bad_mac", "Bad MAC",
        expert.group.CHECKSUM, PI_E),
    other_key = ProtoExpert.new("peko.other_key",
        "Signed with a key id other than the configured key's",
        expert.group.SECURITY, PI_W),
    no_mac = ProtoExpert.new("peko.no_mac",
        "Unsigned, but a key is configured", expert.group.SECURITY, PI_W),
    replay = ProtoExpert.new("peko.replay",
        "Replay: its receiver refuses it", expert.group.SECURITY, PI_W),
    cut = ProtoExpert.new("peko.capture_cut",
        "Packet not fully captured (snap length)", expert.group.UNDECODED,
        PI_N),
    internal = ProtoExpert.new("peko.internal", "Dissector failure",
        expert.group.MALFORMED, PI_E),
}
peko.experts = {ex.truncated, ex.bad_magic, ex.bad_version, ex.bad_type,
    ex.bad_flags, ex.bad_address, ex.bad_set, ex.trailing, ex.framing,
    ex.oversize, ex.bad_length, ex.bad_mac, ex.other_key, ex.no_mac,
    ex.replay, ex.cut, ex.internal}

-- ------------------------------------------------------------------
-- Preferences.

peko.prefs.ports = Pref.range("Ports", DEFAULT_PORTS,
    "UDP and TCP ports decoded as peko (any port works when the heuristic " ..
    "dissectors are enabled)", 65535)
peko.prefs.size = Pref.uint("Size (largest packet, bytes)", DEFAULT_SIZE,
    "The receivers' configured Size: longer packets are flagged " ..
    "(oversize, bad_length)")
peko.prefs.key = Pref.string("Secret key", "",
    "A shared secret: signed packets with its key id are verified " ..
    "(HMAC-SHA256); empty shows the MAC unverified")
peko.prefs.replays = Pref.bool("Replays", true,
    "Judge signed packets as replays when an earlier frame carried the " ..
    "same sender, receiver tag and packet number, or when they are " ..
    "tagged for an earlier incarnation of their destination")

local registered_ports = nil
local key_cache = {secret = nil, id = nil, hmac = nil}

local function register_ports()
    local udp = DissectorTable.get("udp.port")
    local tcp = DissectorTable.get("tcp.port")
    if registered_ports and registered_ports ~= "" then
        udp:remove(registered_ports, peko)
        tcp:remove(registered_ports, peko)
    end
    registered_ports = peko.prefs.ports
    if registered_ports and registered_ports ~= "" then
        udp:add(registered_ports, peko)
        tcp:add(registered_ports, peko)
    end
end

function peko.prefs_changed()
    if registered_ports ~= peko.prefs.ports then
        register_ports()
    end
end

local function configured_key()
    local secret = peko.prefs.key
    if secret == nil or secret == "" then return nil, nil end
    if key_cache.secret ~= secret then
        key_cache.secret = secret
        key_cache.id = key_id_of(secret)
        key_cache.hmac = hmac_key(secret)
    end
    return key_cache.hmac, key_cache.id
end

-- ------------------------------------------------------------------
-- Helpers.

local function ipv6_text(raw)
    local w = {}
    for i = 0, 7 do
        w[i + 1] = raw:byte(2 * i + 1) * 256 + raw:byte(2 * i + 2)
    end
    -- The longest run of two or more zero words becomes "::" (RFC 5952).
    local best, best_len, run, run_len = nil, 1, nil, 0
    for i = 1, 8 do
        if w[i] == 0 then
            if run == nil then run, run_len = i, 0 end
            run_len = run_len + 1
            if run_len > best_len then best, best_len = run, run_len end
        else
            run = nil
        end
    end
    local parts = {}
    local i = 1
    while i <= 8 do
        if i == best then
            parts[#parts + 1] = (i == 1) and ":" or ""
            i = i + best_len
            if i > 8 then parts[#parts + 1] = "" end
        else
            parts[#parts + 1] = string.format("%x", w[i])
            i = i + 1
        end
    end
    return table.concat(parts, ":")
end

-- The 16 bytes of an IPv6 address written "2001:db8::1", or nil.
local function ipv6_raw(text)
    local function groups_of(part, out)
        for g in part:gmatch("[^:]+") do
            local v = tonumber(g, 16)
            if v == nil or #g > 4 then return nil end
            out[#out + 1] = v
        end
        return out
    end
    local head, tail = text:match("^([%x:]*)::([%x:]*)$")
    local words
    if head then
        local h, t = groups_of(head, {}), groups_of(tail, {})
        if h == nil or t == nil or #h + #t > 7 then return nil end
        words = h
        for _ = 1, 8 - #h - #t do words[#words + 1] = 0 end
        for _, v in ipairs(t) do words[#words + 1] = v end
    else
        words = groups_of(text, {})
    end
    if words == nil or #words ~= 8 then return nil end
    local bytes = {}
    for i = 1, 8 do
        bytes[i] = string.char(math.floor(words[i] / 256), words[i] % 256)
    end
    return table.concat(bytes)
end

-- True if the bytes are printable text (ASCII or UTF-8, tabs, newlines).
local function is_text(raw)
    if #raw == 0 then return false end
    for i = 1, #raw do
        local b = raw:byte(i)
        if b < 32 and b ~= 9 and b ~= 10 and b ~= 13 then return false end
        if b == 127 then return false end
    end
    return true
end

-- The verdict: the first check that fails, in the decoder's order
-- (docs/wire.md), named as peko_reject_name() names it, and the message
-- that says why. `unknown` once a check could not be made (the capture
-- stopped short): no later failure is then known to be the first.
local function verdict_new()
    return {reason = nil, why = nil, unknown = false}
end

local function reject(v, reason, why)
    if v.reason == nil and not v.unknown then
        v.reason, v.why = reason, why
    end
end

-- A failed check: the expert item e with message msg on tree item `it`,
-- and the verdict if it is the first.
local function report(v, it, e, reason, msg)
    it:add_proto_expert_info(e, msg)
    reject(v, reason, msg)
end

local function undecided(v)
    if v.reason == nil then v.unknown = true end
end

-- A cursor over one packet's body: `off` advances, `stop` is the end of
-- the body as present in the packet, `cap` the captured length, `tree`
-- where items go (a digest entry's subtree while it is read). need()
-- reports why a field cannot be read and stops the body; fail() stops it
-- for any other reason.
local Cursor = {}
Cursor.__index = Cursor

local function cursor(tvb, tree, off, stop, v)
    return setmetatable({tvb = tvb, tree = tree, off = off, stop = stop,
                         cap = tvb:len(), v = v, failed = false}, Cursor)
end

-- A failed check of the body (see report()), which stops it.
function Cursor:fail(it, e, reason, msg)
    self.failed = self.failed or reason
    report(self.v, it, e, reason, msg)
end

function Cursor:need(n, what)
    if self.failed then return false end
    if self.off + n > self.stop then
        self:fail(self.tree, ex.truncated, "truncated", string.format(
            "Truncated: %s needs %d bytes at offset %d, the body ends at %d",
            what, n, self.off, self.stop))
        return false
    end
    if self.off + n > self.cap then
        self.tree:add_proto_expert_info(ex.cut, string.format(
            "%s lies beyond the captured %d bytes", what, self.cap))
        self.failed = "cut"
        undecided(self.v)
        return false
    end
    return true
end

function Cursor:range(n)
    local r = self.tvb(self.off, n)
    self.off = self.off + n
    return r
end

-- Adds an unsigned field of n bytes (n <= 4) and returns its value; the
-- caller has made sure the bytes are there.
function Cursor:uint(field, n)
    local r = self:range(n)
    self.tree:add(field, r)
    return r:uint()
end

-- The same for a u64: returns the UInt64.
function Cursor:uint64(field)
    local r = self:range(8)
    self.tree:add(field, r)
    return r:uint64()
end

-- Adds an item that may cover zero bytes (Wireshark refuses an empty
-- range at the end of a buffer; the item then points at nothing).
local function add_maybe_empty(tree, field, tvb, off, n, value)
    if n > 0 then
        return tree:add(field, tvb(off, n))
    end
    return tree:add(field, value)
end

-- An address: family, ip, port. Returns its text and fingerprint, or nil
-- after adding the reason it could not be read.
local function dissect_addr(c, field, label, known)
    if not c:need(1, label) then return nil end
    local start = c.off
    local family = c.tvb(c.off, 1):uint()
    local ip_len = (family == 4 and 4) or (family == 6 and 16) or nil
    if ip_len == nil then
        local it = c.tree:add(f.addr_family, c:range(1))
        c:fail(it, ex.bad_address, "bad_address", string.format(
            "%s: address family %d (only 4 and 6 exist)", label, family))
        return nil
    end
    if not c:need(1 + ip_len + 2, label) then return nil end
    local raw = c.tvb(start, 1 + ip_len + 2):raw()
    local ip_raw = raw:sub(2, 1 + ip_len)
    local port = raw:byte(ip_len + 2) * 256 + raw:byte(ip_len + 3)
    local text
    if family == 4 then
        text = string.format("%d.%d.%d.%d:%d", ip_raw:byte(1),
            ip_raw:byte(2), ip_raw:byte(3), ip_raw:byte(4), port)
    else
        text = string.format("[%s]:%d", ipv6_text(ip_raw), port)
    end
    local fp = fingerprint(raw)
    local t = c.tree:add(field, c.tvb(start, 1 + ip_len + 2), text)
    t:add(f.addr_family, c:range(1))
    t:add(family == 4 and f.addr_ip or f.addr_ip6, c:range(ip_len))
    t:add(f.addr_port, c:range(2))
    t:add(f.addr_fp, c.tvb(start, 1 + ip_len + 2), fp):set_generated()
    if known then known[fp] = known[fp] or label:lower() end
    return text, fp
end

-- A length-prefixed byte string: `fields` holds its length field, the
-- field for its bytes, and for data a generated text field (shown when
-- the bytes are printable) or, for a name, `string = true`. Returns the
-- bytes, or nil after adding the reason they could not be read.
local function dissect_blob(c, len_bytes, fields, label)
    if not c:need(len_bytes, label .. " length") then return nil end
    local len_item = c.tree:add(fields.len, c.tvb(c.off, len_bytes))
    local n = c.tvb(c.off, len_bytes):uint()
    c.off = c.off + len_bytes
    if not c:need(n, label) then return nil end
    local start = c.off
    local raw = n > 0 and c.tvb(start, n):raw() or ""
    if fields.string then
        add_maybe_empty(c.tree, fields.bytes, c.tvb, start, n, "")
    elseif n > 0 then
        c.tree:add(fields.bytes, c.tvb(start, n))
        if fields.text and is_text(raw) then
            c.tree:add(fields.text, c.tvb(start, n), raw):set_generated()
        end
    else
        len_item:append_text(" (empty)")
    end
    c.off = start + n
    return raw
end

local NAME = {len = f.name_len, bytes = f.name, string = true}
local DATA = {len = f.data_len, bytes = f.data, text = f.data_text}
local META = {len = f.meta_len, bytes = f.meta, text = f.meta_text}
local ENTRY_NAME = {len = f.entry_name_len, bytes = f.entry_name,
                    string = true}
local ENTRY_DATA = {len = f.entry_data_len, bytes = f.entry_data,
                    text = f.entry_data_text}

-- The infected set. `known` maps fingerprints of addresses seen in this
-- frame (sender, origin, the IP endpoints) to a label.
local function dissect_set(c, known)
    if not c:need(4, "n_infected") then return nil end
    local n = c.tvb(c.off, 4):uint()
    local st = c.tree:add(f.n_infected, c:range(4))
    if not c:need(4 * n, "infected set") then return nil end
    local prev = nil
    for _ = 1, n do
        local r = c:range(4)
        local v = r:uint()
        local it = st:add(f.infected, r)
        if known[v] then it:append_text(" (" .. known[v] .. ")") end
        if prev ~= nil and v <= prev and not c.failed then
            c:fail(it, ex.bad_set, "bad_set", string.format(
                "Infected set not strictly ascending: 0x%08x after 0x%08x",
                v, prev))
        end
        prev = v
    end
    return n
end

-- A metadata version: counter, then origin. Returns the counter (a
-- UInt64) and the origin's text, or nil.
local function dissect_version(c)
    if not c:need(8, "version counter") then return nil end
    local counter = c:uint64(f.counter)
    local origin = dissect_addr(c, f.vorigin, "Version origin", nil)
    if origin == nil then return nil end
    return counter, origin
end

local function version_text(counter, origin)
    if tostring(counter) == "0" then return "version none" end
    return string.format("version %s@%s", tostring(counter), origin)
end

-- A flags byte with its bits: `rsv_mask` holds the bits that must be 0.
-- Returns the byte, or nil after reporting reserved bits (the layout of
-- what follows is then unknown, as it is to the decoder).
local function dissect_flags(c, fields, rsv_mask, label)
    if not c:need(1, label) then return nil end
    local r = c:range(1)
    local flags = r:uint()
    local ft = c.tree:add(fields[1], r)
    for i = 2, #fields do ft:add(fields[i], r) end
    if band(flags, rsv_mask) ~= 0 then
        c:fail(ft, ex.bad_flags, "bad_flags", string.format(
            "%s: reserved bits set (0x%02x; only 0x%02x may be)", label,
            flags, band(bnot(rsv_mask), 0xff)))
        return nil
    end
    return flags
end

-- The range [first, last] on the ring of 2^32 fingerprints: a
-- description and the number of fingerprints it holds.
local function range_meaning(first, last)
    local span = (last - first) % RING
    local count = span + 1
    local what
    if count == RING then
        what = "the whole ring"
    elseif count == 1 then
        what = "a single fingerprint"
    else
        what = string.format("%.0f fingerprints, %.4g%% of the ring",
            count, 100 * count / RING)
        if first > last then what = what .. ", wrapping past 0xffffffff" end
    end
    return what, count
end

local function range_contains(first, last, fp)
    return (fp - first) % RING <= (last - first) % RING
end

-- One digest entry, as entry i of n, in a subtree of its own. Returns
-- true when it was read whole.
local function dissect_entry(c, i, n, range)
    local label = string.format("entry %d of %d", i, n)
    if not c.failed and c.off == c.stop then
        c:fail(c.tree, ex.truncated, "truncated", string.format(
            "Truncated: n_entries says %d entries, the body ends after %d",
            n, i - 1))
        return false
    end
    if not c:need(1, label) then return false end
    local parent, start = c.tree, c.off
    local et = parent:add(f.entry, c.tvb(start, 1))
    c.tree = et
    local flags = dissect_flags(c, {f.entry_flags, f.entry_flags_full,
        f.entry_flags_rsv}, band(bnot(ENTRY_FULL), 0xff),
        "Entry " .. i .. " flags")
    local addr, fp, inc, seq, rev, name, data
    if flags then
        addr, fp = dissect_addr(c, f.entry_addr, "Entry " .. i .. " address",
                                nil)
    end
    if addr and c:need(10, label .. ": incarnation, seq and rev") then
        inc = c:uint(f.entry_inc, 4)
        seq = c:uint(f.entry_seq, 4)
        rev = c:uint(f.entry_rev, 2)
    end
    local full = flags and band(flags, ENTRY_FULL) ~= 0
    local done = rev ~= nil
    if done and full then
        name = dissect_blob(c, 2, ENTRY_NAME, "Entry " .. i .. " name")
        data = name and dissect_blob(c, 2, ENTRY_DATA,
                                     "Entry " .. i .. " data")
        done = data ~= nil
    end
    if fp and range then
        et:add(f.entry_in_range, range_contains(range[1], range[2], fp))
            :set_generated()
    end
    et:set_len(c.off - start)
    local text = string.format("Entry %d: %s", i, addr or "?")
    if rev then
        text = text .. string.format(" inc=%d seq=%d rev=%d", inc, seq, rev)
    end
    if done then
        if full then
            text = text .. string.format(", full: name %q, %d data bytes",
                                         name, #data)
        else
            text = text .. ", short"
        end
    else
        text = text .. " (malformed)"
    end
    et:set_text(text)
    c.tree = parent
    return done
end

-- ------------------------------------------------------------------
-- Bodies: each reads its fields in the decoder's order and returns the
-- summary for the Info column.

local function dissect_heartbeat(c, known)
    local sender = dissect_addr(c, f.sender, "Sender", known)
    local origin = sender and dissect_addr(c, f.origin, "Origin", known)
    local inc, seq, rev
    if origin and c:need(10, "incarnation, seq and rev") then
        inc = c:uint(f.incarnation, 4)
        seq = c:uint(f.seq, 4)
        rev = c:uint(f.rev, 2)
    end
    local name = rev and dissect_blob(c, 2, NAME, "Name")
    local data = name and dissect_blob(c, 2, DATA, "Data")
    local n_set = data and dissect_set(c, known)
    local s = string.format("Heartbeat from %s", sender or "?")
    if origin then s = s .. string.format(" about %s", origin) end
    if rev then
        s = s .. string.format(" inc=%d seq=%d rev=%d", inc, seq, rev)
    end
    if name and #name > 0 then s = s .. string.format(" name=%q", name) end
    if n_set then s = s .. string.format(" set=%d", n_set) end
    return s
end

local function dissect_metadata(c, known)
    local sender = dissect_addr(c, f.sender, "Sender", known)
    local counter, vorigin
    if sender then counter, vorigin = dissect_version(c) end
    local meta = counter and dissect_blob(c, 4, META, "Metadata")
    local n_set = meta and dissect_set(c, known)
    local s = string.format("Metadata from %s", sender or "?")
    if counter then s = s .. " " .. version_text(counter, vorigin) end
    if meta then s = s .. string.format(" meta=%dB", #meta) end
    if n_set then s = s .. string.format(" set=%d", n_set) end
    return s
end

local function dissect_swap(c, tname, known)
    local sender = dissect_addr(c, f.sender, "Sender", known)
    local counter, vorigin
    if sender then counter, vorigin = dissect_version(c) end
    if counter then
        if c:need(16, "clock stamps") then
            c:uint64(f.sent_us)
            c:uint64(f.echo_us)
        else
            counter = nil
        end
    end
    local flags = counter and dissect_flags(c, {f.swap_flags,
        f.swap_flags_meta, f.swap_flags_range, f.swap_flags_rsv},
        band(bnot(SWAP_META + SWAP_RANGE), 0xff), "Swap flags")
    local ok = flags ~= nil
    local meta, range
    if ok and band(flags, SWAP_META) ~= 0 then
        meta = dissect_blob(c, 4, META, "Metadata")
        ok = meta ~= nil
    end
    if ok and band(flags, SWAP_RANGE) ~= 0 then
        if c:need(8, "range") then
            local first = c.tvb(c.off, 4):uint()
            local last = c.tvb(c.off + 4, 4):uint()
            local what, count = range_meaning(first, last)
            local parent = c.tree
            local rt = parent:add(f.range, c.tvb(c.off, 8))
            rt:set_text(string.format("Range: [0x%08x, 0x%08x], %s",
                                      first, last, what))
            c.tree = rt
            c:uint(f.range_first, 4)
            c:uint(f.range_last, 4)
            c.tree = parent
            rt:add(f.range_count, UInt64(count % RING,
                math.floor(count / RING))):set_generated()
            rt:add(f.range_wraps, first > last and count < RING)
                :set_generated()
            range = {first, last}
        else
            ok = false
        end
    end
    local n, read = nil, 0
    if ok and c:need(2, "n_entries") then
        n = c:uint(f.n_entries, 2)
        for i = 1, n do
            if not dissect_entry(c, i, n, range) then break end
            read = i
        end
    end
    local s = string.format("%s from %s", tname, sender or "?")
    if counter then s = s .. " " .. version_text(counter, vorigin) end
    if meta then s = s .. string.format(" meta=%dB", #meta) end
    if range then
        s = s .. string.format(" range=[0x%08x,0x%08x]", range[1], range[2])
    end
    if n then
        s = s .. (read == n and string.format(" entries=%d", n) or
                  string.format(" entries=%d of %d", read, n))
    end
    return s
end

-- Challenges by nonce (frame number of the first one seen), so that an
-- echo points at the challenge it answers. Reset for each capture file.
local challenges = {}

local function dissect_nonce_msg(c, pinfo, mtype, tname, known)
    local sender = dissect_addr(c, f.sender, "Sender", known)
    local nonce
    if sender and c:need(8, "nonce") then nonce = c:uint64(f.nonce) end
    local s = string.format("%s from %s", tname, sender or "?")
    if nonce then
        local hex = nonce:tohex()
        s = s .. " nonce=0x" .. hex
        if mtype == 5 and not pinfo.visited and challenges[hex] == nil then
            challenges[hex] = pinfo.number
        elseif mtype == 6 and challenges[hex] and
               challenges[hex] < pinfo.number then
            c.tree:add(f.challenge_in, challenges[hex]):set_generated()
        end
    end
    return s
end

-- What the capture showed so far of freshness (docs/wire.md,
-- "Freshness"), from the first pass over it: the incarnations each node
-- signed its own packets with, in order; the frame that first carried
-- each (sender, receiver tag, number); and each message's judgement, so
-- that a later pass shows the same. Reset for each capture file.
local fresh = {incarnations = {}, numbers = {}, verdicts = {}}

function peko.init()
    challenges = {}
    fresh = {incarnations = {}, numbers = {}, verdicts = {}}
end

-- An IP-level endpoint as peko encodes an address (family, ip, port), or
-- nil.
local function endpoint_raw(addr, port)
    local ok, text = pcall(tostring, addr)
    if not ok or text == nil or port == nil or port == 0 then return nil end
    local port_raw = string.char(math.floor(port / 256), port % 256)
    local a, b, cc, d = text:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
    if a then
        return string.char(4, tonumber(a), tonumber(b), tonumber(cc),
            tonumber(d)) .. port_raw
    end
    local ip6 = ipv6_raw(text)
    if ip6 then return string.char(6) .. ip6 .. port_raw end
    return nil
end

local function u32_raw(v)
    return string.char(math.floor(v / 16777216) % 256,
        math.floor(v / 65536) % 256, math.floor(v / 256) % 256, v % 256)
end

-- The receiver tag: the fingerprint's hash over the address and the
-- incarnation.
local function receiver_tag(raw, inc)
    return fingerprint(raw .. u32_raw(inc))
end

-- First pass: judges a signed packet as its receiver would, from what
-- the capture showed before it. Returns nil (fresh as far as can be
-- told), or the reason, the frame it replays (or nil) and the receiver's
-- incarnation the tag names (or nil).
local function judge_fresh(pinfo, sender_raw, inc, tag, key)
    local seen = fresh.numbers[key]
    local dst = endpoint_raw(pinfo.dst, pinfo.dst_port)
    local named = nil
    local why = nil
    if seen and seen ~= pinfo.number then
        why = string.format("Replay: frame %d carried the same sender, " ..
            "receiver tag and packet number", seen)
    elseif dst and tag ~= 0 and fresh.incarnations[dst] then
        local list = fresh.incarnations[dst]
        for i = #list, 1, -1 do
            if receiver_tag(dst, list[i]) == tag then
                named = list[i]
                if i < #list then
                    why = string.format("Replay: tagged for incarnation " ..
                        "%d of its receiver, which signs as %d since",
                        list[i], list[#list])
                end
                break
            end
        end
    end
    if not seen then fresh.numbers[key] = pinfo.number end
    local list = fresh.incarnations[sender_raw]
    if list == nil then
        fresh.incarnations[sender_raw] = {inc}
    elseif list[#list] ~= inc then
        list[#list + 1] = inc
    end
    return why, (why and seen ~= pinfo.number) and seen or nil, named
end

-- Fingerprints of the IP-level endpoints, so the set can be read.
local function endpoint_fingerprints(pinfo)
    local known = {}
    local function add(addr, port, label)
        local raw = endpoint_raw(addr, port)
        if raw then known[fingerprint(raw)] = label end
    end
    add(pinfo.dst, pinfo.dst_port, "receiver")
    return known
end

-- ------------------------------------------------------------------
-- One packet: tvb holds exactly its bytes (as far as captured), t is its
-- tree, v its verdict. Returns the message type (or nil) and a summary
-- for the Info column.

local function dissect_fields(tvb, pinfo, t, v)
    local n = tvb:reported_len()
    local cap = tvb:len()
    local size = peko.prefs.size or DEFAULT_SIZE

    -- Checks 1-2: the packet's length.
    if n > size then
        report(v, t, ex.oversize, "oversize", string.format(
            "Oversize: %d bytes, the Size preference is %d", n, size))
    end
    if n < HEADER_BYTES then
        report(v, t, ex.truncated, "truncated", string.format(
            "Truncated: %d bytes, shorter than the 12-byte header", n))
        return nil, "Truncated packet"
    end
    if cap < HEADER_BYTES then
        t:add_proto_expert_info(ex.cut, "Header not fully captured")
        undecided(v)
        return nil, "Packet not captured"
    end

    local magic = tvb(0, 2):uint()
    local version = tvb(2, 1):uint()
    local mtype = tvb(3, 1):uint()
    local flags = tvb(4, 1):uint()
    local key_id = tvb(5, 1):uint()
    local hops = tvb(6, 1):uint()
    local reserved = tvb(7, 1):uint()
    local body_len = tvb(8, 4):uint()
    local signed = band(flags, FLAG_MAC) ~= 0

    -- Checks 3-6: the header's fields.
    local ht = t:add(tvb(0, HEADER_BYTES), "Header")
    local it = ht:add(f.magic, tvb(0, 2))
    if magic ~= 0x504b then
        report(v, it, ex.bad_magic, "bad_magic", string.format(
            "Bad magic 0x%04x (peko packets begin 50 4b, \"PK\")", magic))
        return nil, "Bad magic"
    end
    it = ht:add(f.version, tvb(2, 1))
    if version ~= WIRE_VERSION then
        local why = version == 1 and
            "Wire version 1 (peko 0.1), which version 2 receivers reject" or
            string.format("Wire version %d", version)
        report(v, it, ex.bad_version, "bad_version", string.format(
            "%s; this dissector reads version %d", why, WIRE_VERSION))
        return nil, string.format("Unknown version %d", version)
    end
    it = ht:add(f.type, tvb(3, 1))
    local tname = msg_types[mtype]
    if tname == nil then
        report(v, it, ex.bad_type, "bad_type", string.format(
            "Message type %d (1-%d exist)", mtype, #msg_types))
    end
    local ft = ht:add(f.flags, tvb(4, 1))
    ft:add(f.flags_mac, tvb(4, 1))
    ft:add(f.flags_rsv, tvb(4, 1))
    local kt = ht:add(f.key_id, tvb(5, 1))
    ht:add(f.hops, tvb(6, 1))
    local rt = ht:add(f.reserved, tvb(7, 1))
    local bt = ht:add(f.body_len, tvb(8, 4))
    if band(flags, 0xfe) ~= 0 then
        report(v, ft, ex.bad_flags, "bad_flags", string.format(
            "Flag bits 1-7 must be 0 (flags 0x%02x)", flags))
    end
    if reserved ~= 0 then
        report(v, rt, ex.bad_flags, "bad_flags", "Reserved byte must be 0")
    end
    if not signed and key_id ~= 0 then
        report(v, kt, ex.bad_flags, "bad_flags",
            "Key id must be 0 on an unsigned packet")
    end

    -- Checks 7-9: the length the header announces.
    local expect = HEADER_BYTES + body_len + (signed and TRAILER_BYTES or 0)
    if expect > size then
        report(v, bt, ex.bad_length, "bad_length", string.format(
            "Header claims %d bytes, more than the Size preference %d",
            expect, size))
    end
    if n < expect then
        report(v, bt, ex.truncated, "truncated", string.format(
            "Truncated: the header claims %d bytes, the packet has %d",
            expect, n))
    elseif n > expect then
        local extra = math.min(n, cap) - expect
        local msg = string.format("Trailing: %d bytes after the packet's %d",
                                  n - expect, expect)
        local at = t
        if extra > 0 then
            at = t:add(tvb(expect, extra), string.format(
                "Trailing bytes: %d", n - expect))
        end
        report(v, at, ex.trailing, "trailing", msg)
    end

    -- Checks 10-12: authentication, before any body field, as the
    -- decoder does. Without a key in the preferences a signed packet is
    -- judged as by a receiver holding its key, if the MAC verifies (which
    -- cannot be checked); an unsigned one as by a receiver without keys.
    local trailer_off = HEADER_BYTES + body_len
    local mac_off = trailer_off + FRESHNESS_BYTES
    local have = math.min(n, cap)
    local hkey, my_id = configured_key()
    local mac_status, mac_why = 0, nil
    if hkey and not signed then
        report(v, ft, ex.no_mac, "no_mac", "Unsigned, but a key is " ..
            "configured: receivers with keys reject it (no_mac)")
    elseif hkey then
        if key_id ~= my_id then
            mac_status = 3
            mac_why = string.format("Key id 0x%02x, the configured key's " ..
                "is 0x%02x: a receiver with only that key rejects it " ..
                "(bad_mac)", key_id, my_id)
            reject(v, "bad_mac", mac_why)
        elseif mac_off + MAC_BYTES <= have then
            local want = hmac_sha256(hkey, tvb(0, mac_off):raw())
            mac_status = (want == tvb(mac_off, MAC_BYTES):raw()) and 1 or 2
            if mac_status == 2 then
                mac_why = "Bad MAC: the configured key does not verify it"
                reject(v, "bad_mac", mac_why)
            end
        else
            undecided(v) -- not captured, or missing (then truncated)
        end
    end

    -- Check 13: the body, up to where the packet or the capture ends.
    local body_end = math.min(trailer_off, n)
    local summary = tname or string.format("Type %d", mtype)
    if body_len > 0 or tname then
        local btree = t:add(tvb(HEADER_BYTES, math.max(0,
            math.min(body_end, cap) - HEADER_BYTES)), "Body")
        local c = cursor(tvb, btree, HEADER_BYTES, body_end, v)
        local known = endpoint_fingerprints(pinfo)
        if tname == nil then
            c.off = body_end -- unknown type: nothing to read
        elseif mtype == 1 then
            summary = dissect_heartbeat(c, known)
        elseif mtype == 2 then
            summary = dissect_metadata(c, known)
        elseif mtype <= 4 then
            summary = dissect_swap(c, tname, known)
        else
            summary = dissect_nonce_msg(c, pinfo, mtype, tname, known)
        end
        if not c.failed and c.off < body_end then
            local it = btree:add(tvb(c.off, math.min(body_end, cap) - c.off),
                string.format("Unread body bytes: %d", body_end - c.off))
            report(v, it, ex.trailing, "trailing", string.format(
                "Trailing: %d bytes in the body after its last field",
                body_end - c.off))
        end
    end
    if hops > 0 then
        summary = summary .. string.format(" hops=%d", hops)
    end

    -- The trailer.
    if signed then
        if trailer_off + TRAILER_BYTES <= have then
            local inc = tvb(trailer_off, 4):uint()
            local tag = tvb(trailer_off + 4, 4):uint()
            local number = tvb(trailer_off + 8, 8):uint64()
            local tt = t:add(tvb(trailer_off, TRAILER_BYTES), string.format(
                "Trailer: incarnation %d, receiver tag 0x%08x, packet " ..
                "number %s", inc, tag, tostring(number)))
            tt:add(f.trailer_inc, tvb(trailer_off, 4))
            local rt = tt:add(f.trailer_receiver, tvb(trailer_off + 4, 4))
            if tag == 0 then
                rt:append_text(mtype == 5 and " (a hello: the sender " ..
                    "does not know the receiver's incarnation)" or
                    " (none: only a hello may go without one)")
            end
            tt:add(f.trailer_number, tvb(trailer_off + 8, 8))
            -- Freshness, once the packet is otherwise one its receiver
            -- accepts (a MAC that failed or could not be checked aside).
            local sender_raw = nil
            if body_len >= 7 and HEADER_BYTES + 1 <= have then
                local fam = tvb(HEADER_BYTES, 1):uint()
                local alen = fam == 6 and 19 or 7
                if (fam == 4 or fam == 6) and body_len >= alen then
                    sender_raw = tvb(HEADER_BYTES, alen):raw()
                end
            end
            if peko.prefs.replays and sender_raw and v.reason == nil and
               not v.unknown and mac_status ~= 2 and mac_status ~= 3 then
                local key = sender_raw .. tvb(trailer_off + 4, 12):raw()
                local vkey = tostring(pinfo.number) .. ":" .. key
                local fv = fresh.verdicts[vkey]
                if fv == nil and not pinfo.visited then
                    local why, of, named = judge_fresh(pinfo, sender_raw,
                                                       inc, tag, key)
                    fv = {why = why, of = of, named = named}
                    fresh.verdicts[vkey] = fv
                end
                if fv then
                    if fv.named then
                        tt:add(f.trailer_receiver_inc, fv.named)
                            :set_generated()
                    end
                    if fv.of then
                        tt:add(f.replay_of, fv.of):set_generated()
                    end
                    if fv.why then
                        report(v, tt, ex.replay, "replay", fv.why)
                    end
                end
            end
            local mt = tt:add(f.mac, tvb(mac_off, MAC_BYTES))
            local st = mt:add(f.mac_status, tvb(mac_off, MAC_BYTES),
                              mac_status)
            st:set_generated()
            if mac_status == 2 then
                st:add_proto_expert_info(ex.bad_mac, mac_why)
            elseif mac_status == 3 then
                st:add_proto_expert_info(ex.other_key, mac_why)
            end
            summary = summary .. string.format(
                " signed(key 0x%02x inc=%d to=0x%08x n=%s)", key_id, inc,
                tag, tostring(number))
        elseif trailer_off + TRAILER_BYTES <= n then
            t:add_proto_expert_info(ex.cut, "Trailer not captured")
        else
            t:add_proto_expert_info(ex.truncated,
                "Truncated: the 48-byte trailer is missing")
        end
    end

    t:append_text(string.format(", %s, %d bytes", tname or
        string.format("type %d", mtype), n))
    return (tname and mtype or nil), summary
end

local function dissect_packet(tvb, pinfo, tree)
    local t = tree:add(peko, tvb())
    t:add(f.length, tvb:reported_len()):set_generated()
    local v = verdict_new()
    local mtype, summary = dissect_fields(tvb, pinfo, t, v)
    if v.reason then
        t:add(f.reject, v.reason):set_generated()
        t:add(f.reject_why, v.why):set_generated()
        t:append_text(", rejected: " .. v.reason)
        summary = summary .. " [rejected: " .. v.reason .. "]"
    end
    return mtype, summary
end

-- ------------------------------------------------------------------
-- Entry points.

-- The Info column: the first message of a frame replaces it, later ones
-- (several messages in one TCP segment) are appended. The count restarts
-- with each call of the dissector.
local info_count = 0

local function set_info(pinfo, text)
    pinfo.cols.protocol = "PEKO"
    info_count = info_count + 1
    if info_count == 1 then
        pinfo.cols.info = text
    else
        pinfo.cols.info:append(" | " .. text)
    end
end

local function safe_dissect_packet(tvb, pinfo, tree)
    local ok, mtype, summary = pcall(dissect_packet, tvb, pinfo, tree)
    if not ok then
        tree:add_proto_expert_info(ex.internal, "Dissector failure: " ..
            tostring(mtype))
        set_info(pinfo, "peko (dissector failure)")
        return
    end
    set_info(pinfo, summary)
end

-- TCP: the length of the message at `offset`, framed or bare.
local function tcp_pdu_len(tvb, pinfo, offset)
    local avail = tvb:reported_length_remaining(offset)
    if tvb:len() - offset >= 2 and tvb(offset, 2):uint() == 0x504b then
        local body_len = tvb(offset + 8, 4):uint()
        local signed = band(tvb(offset + 4, 1):uint(), FLAG_MAC) ~= 0
        return HEADER_BYTES + body_len + (signed and TRAILER_BYTES or 0)
    end
    local len = tvb(offset, 4):uint()
    -- A length that no peko packet can have would stall the stream until
    -- its end: take the rest of the segment and report it instead.
    if len < HEADER_BYTES or len > 16 * 1024 * 1024 then
        return math.max(avail, HEADER_BYTES)
    end
    return 4 + len
end

local function tcp_pdu(tvb, pinfo, tree)
    local n = tvb:reported_len()
    local ok, err = pcall(function()
        if tvb:len() >= 2 and tvb(0, 2):uint() == 0x504b then
            safe_dissect_packet(tvb, pinfo, tree)
            return
        end
        local len = tvb(0, 4):uint()
        if len + 4 ~= n or n <= 4 then
            local t = tree:add(peko, tvb())
            t:add(f.frame_len, tvb(0, 4)):add_proto_expert_info(ex.framing,
                string.format("Frame length %d, %d bytes follow", len,
                              n - 4))
            set_info(pinfo, "Bad TCP frame")
            return
        end
        local sub = tree:add(peko, tvb(0, 4), "peko TCP framing")
        sub:add(f.frame_len, tvb(0, 4))
        safe_dissect_packet(tvb(4):tvb(), pinfo, tree)
    end)
    if not ok then
        tree:add_proto_expert_info(ex.internal, "Dissector failure: " ..
            tostring(err))
    end
    return n
end

local PT_TCP = 2 -- epan's port_type value for TCP

function peko.dissector(tvb, pinfo, tree)
    info_count = 0
    if pinfo.port_type == PT_TCP then
        return dissect_tcp_pdus(tvb, tree, HEADER_BYTES, tcp_pdu_len,
                                tcp_pdu, true)
    end
    safe_dissect_packet(tvb, pinfo, tree)
    return tvb:reported_len()
end

-- A plausible header at `off`: magic, version 2, a known type, clean
-- flag bits and reserved byte.
local function looks_like_header(tvb, off)
    if tvb:len() < off + HEADER_BYTES then return false end
    return tvb(off, 2):uint() == 0x504b and
           tvb(off + 2, 1):uint() == WIRE_VERSION and
           msg_types[tvb(off + 3, 1):uint()] ~= nil and
           band(tvb(off + 4, 1):uint(), 0xfe) == 0 and
           tvb(off + 7, 1):uint() == 0
end

local function heur_udp(tvb, pinfo, tree)
    if not looks_like_header(tvb, 0) then return false end
    peko.dissector(tvb, pinfo, tree)
    return true
end

local function heur_tcp(tvb, pinfo, tree)
    local bare = looks_like_header(tvb, 0)
    local framed = not bare and looks_like_header(tvb, 4) and
                   tvb(0, 4):uint() >= HEADER_BYTES
    if not (bare or framed) then return false end
    -- Later segments of the stream, which need not begin with a header,
    -- go to peko too.
    pinfo.conversation = peko
    peko.dissector(tvb, pinfo, tree)
    return true
end

register_ports()
peko:register_heuristic("udp", heur_udp)
peko:register_heuristic("tcp", heur_tcp)
