package dev.jdm.luks;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * A LUKS2 volume: two copies of a 4096-byte binary header, each followed by JSON metadata and
 * checksummed over both; the copy with the valid checksum and the higher sequence number wins.
 * Keyslots are derived with PBKDF2, Argon2i or Argon2id; a digest checks the volume key.
 */
final class Luks2Volume implements LuksVolume {
  private static final int BINARY = 4096;
  /** The header sizes LUKS2 allows, where a second header may start. */
  private static final long[] SIZES = {0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000,
      0x100000, 0x200000, 0x400000};

  private final Path image;
  private final Header header;
  private final Map<String, Object> json;
  private final Segment segment;
  private final String segmentId;

  /** One binary header with its JSON text, checksum verified. */
  private record Header(long offset, long size, long seqid, String label, String uuid,
      String subsystem, String json) {}

  private Luks2Volume(Path image, Header header) throws LuksException {
    this.image = image;
    this.header = header;
    this.json = map(Json.parse(header.json), "metadata");
    Map<String, Object> config = map(json.get("config"), "config");
    Object req = config.get("requirements");
    if (req != null && map(req, "requirements").get("mandatory") instanceof List<?> l
        && !l.isEmpty()) {
      throw new LuksException("the LUKS2 header requires " + l + ", which jdm does not support");
    }
    Map<String, Object> segments = map(json.get("segments"), "segments");
    String id = segments.keySet().stream().min(Comparator.comparingLong(Long::parseLong))
        .orElseThrow(() -> new LuksException("the LUKS2 header has no data segment"));
    Map<String, Object> s = map(segments.get(id), "segment " + id);
    if (!"crypt".equals(s.get("type")) || s.containsKey("integrity")) {
      throw new LuksException("LUKS2 segment type " + s.get("type")
          + (s.containsKey("integrity") ? " with integrity" : "") + " is not supported");
    }
    List<String> flags = new ArrayList<>();
    if (config.get("flags") instanceof List<?> fl) {
      for (Object f : fl) {
        switch (String.valueOf(f)) {
          case "allow-discards" -> flags.add("allow_discards");
          case "same-cpu-crypt" -> flags.add("same_cpu_crypt");
          case "submit-from-crypt-cpus" -> flags.add("submit_from_crypt_cpus");
          case "no-read-workqueue" -> flags.add("no_read_workqueue");
          case "no-write-workqueue" -> flags.add("no_write_workqueue");
          default -> { }
        }
      }
    }
    Object size = s.get("size");
    this.segmentId = id;
    this.segment = new Segment(string(s, "encryption"), volumeKeyBytes(),
        number(s, "offset"), "dynamic".equals(size) ? -1 : number(s, "size"),
        number(s, "iv_tweak"), (int) number(s, "sector_size"), List.copyOf(flags));
    if (segment.sectorSize() < 512 || segment.sectorSize() > 4096
        || Integer.bitCount(segment.sectorSize()) != 1) {
      throw new LuksException("LUKS2 segment sector size " + segment.sectorSize() + " is invalid");
    }
  }

  static Luks2Volume read(FileChannel ch, Path image, boolean primaryMagic)
      throws IOException, LuksException {
    List<String> problems = new ArrayList<>();
    Header primary = header(ch, 0, "LUKS", problems);
    List<Long> places = new ArrayList<>();
    if (primary != null) {
      places.add(primary.size);
    } else {
      for (long s : SIZES) {
        places.add(s);
      }
    }
    Header secondary = null;
    for (long at : places) {
      secondary = header(ch, at, "SKUL", primary == null ? new ArrayList<>() : problems);
      if (secondary != null) {
        break;
      }
    }
    if (primary == null && secondary == null) {
      throw new LuksException(primaryMagic || !problems.isEmpty()
          ? "no valid LUKS2 header: " + String.join("; ", problems)
          : "not a LUKS volume");
    }
    Header h = primary == null ? secondary
        : secondary == null || primary.seqid >= secondary.seqid ? primary : secondary;
    return new Luks2Volume(image, h);
  }

  /** The header at {@code offset} if its magic, version, size and checksum are right. */
  private static Header header(FileChannel ch, long offset, String magic, List<String> problems)
      throws IOException {
    String which = offset == 0 ? "primary header" : "secondary header at " + offset;
    if (ch.size() < offset + BINARY) {
      return null;
    }
    ByteBuffer b = ByteBuffer.wrap(Image.read(ch, offset, BINARY));
    byte[] m = new byte[6];
    b.get(0, m);
    if (!new String(m, 0, 4, StandardCharsets.ISO_8859_1).equals(magic)
        || (m[4] & 0xff) != 0xba || (m[5] & 0xff) != 0xbe) {
      return null;
    }
    if (b.getShort(6) != 2) {
      problems.add(which + ": version " + b.getShort(6));
      return null;
    }
    long size = b.getLong(8);
    if (Arrays.stream(SIZES).noneMatch(s -> s == size) || b.getLong(256) != offset) {
      problems.add(which + ": bad header size or offset");
      return null;
    }
    if (ch.size() < offset + size) {
      problems.add(which + ": cut short");
      return null;
    }
    byte[] all = Image.read(ch, offset, (int) size);
    String alg = text(b, 72, 32);
    String jdk = Kdf.jdkName(alg);
    if (jdk == null) {
      problems.add(which + ": checksum " + alg + " is not supported");
      return null;
    }
    byte[] stored = new byte[64];
    b.get(448, stored);
    Arrays.fill(all, 448, 512, (byte) 0);
    byte[] sum;
    try {
      sum = MessageDigest.getInstance(jdk).digest(all);
    } catch (GeneralSecurityException e) {
      problems.add(which + ": checksum " + alg + " is not supported");
      return null;
    }
    if (!MessageDigest.isEqual(sum, Arrays.copyOf(stored, sum.length))) {
      problems.add(which + ": checksum mismatch");
      return null;
    }
    int end = BINARY;
    while (end < all.length && all[end] != 0) {
      end++;
    }
    return new Header(offset, size, b.getLong(16), text(b, 24, 48), text(b, 168, 40),
        text(b, 208, 48), new String(all, BINARY, end - BINARY, StandardCharsets.UTF_8));
  }

  private static String text(ByteBuffer b, int at, int len) {
    int n = 0;
    while (n < len && b.get(at + n) != 0) {
      n++;
    }
    byte[] t = new byte[n];
    b.get(at, t);
    return new String(t, StandardCharsets.UTF_8);
  }

  // ------------------------------------------------------------------- JSON access

  @SuppressWarnings("unchecked")
  private static Map<String, Object> map(Object o, String what) throws LuksException {
    if (o instanceof Map<?, ?> m) {
      return (Map<String, Object>) m;
    }
    throw new LuksException("LUKS2 metadata: " + what + " is not an object");
  }

  private static String string(Map<String, Object> m, String key) throws LuksException {
    if (m.get(key) instanceof String s) {
      return s;
    }
    throw new LuksException("LUKS2 metadata: \"" + key + "\" is missing or not a string");
  }

  /** A number, written as JSON number or (for 64-bit values) as a decimal string. */
  private static long number(Map<String, Object> m, String key) throws LuksException {
    Object v = m.get(key);
    if (v instanceof Long l) {
      return l;
    }
    if (v instanceof String s && s.matches("[0-9]{1,19}")) {
      return Long.parseLong(s);
    }
    throw new LuksException("LUKS2 metadata: \"" + key + "\" is missing or not a number");
  }

  private static byte[] base64(Map<String, Object> m, String key) throws LuksException {
    try {
      return Base64.getDecoder().decode(string(m, key));
    } catch (IllegalArgumentException e) {
      throw new LuksException("LUKS2 metadata: \"" + key + "\" is not base64");
    }
  }

  private Map<String, Object> keyslots() throws LuksException {
    return map(json.get("keyslots"), "keyslots");
  }

  private int volumeKeyBytes() throws LuksException {
    for (Object k : keyslots().values()) {
      Map<String, Object> slot = map(k, "keyslot");
      if ("luks2".equals(slot.get("type"))) {
        return (int) number(slot, "key_size");
      }
    }
    return 0;
  }

  // ------------------------------------------------------------------- the volume

  @Override
  public int version() {
    return 2;
  }

  @Override
  public String uuid() {
    return header.uuid;
  }

  @Override
  public Segment segment() {
    return segment;
  }

  @Override
  public byte[] unlock(byte[] passphrase) throws LuksException, IOException {
    // High priority first, then normal; priority 0 slots are only used when named.
    List<Map.Entry<String, Object>> order = new ArrayList<>(keyslots().entrySet());
    order.sort(Comparator.comparingLong(e -> -priority(e.getValue())));
    for (Map.Entry<String, Object> e : order) {
      Map<String, Object> slot = map(e.getValue(), "keyslot " + e.getKey());
      if (!"luks2".equals(slot.get("type")) || priority(slot) == 0) {
        continue;
      }
      byte[] key = tryKeyslot(slot, passphrase);
      if (key != null && verified(e.getKey(), key)) {
        return key;
      }
      if (key != null) {
        Arrays.fill(key, (byte) 0);
      }
    }
    throw new NoKeyException();
  }

  private static long priority(Object slot) {
    return slot instanceof Map<?, ?> m && m.get("priority") instanceof Long p ? p : 1;
  }

  private byte[] tryKeyslot(Map<String, Object> slot, byte[] passphrase)
      throws LuksException, IOException {
    int keyBytes = (int) number(slot, "key_size");
    Map<String, Object> area = map(slot.get("area"), "keyslot area");
    Map<String, Object> kdf = map(slot.get("kdf"), "keyslot kdf");
    Map<String, Object> af = map(slot.get("af"), "keyslot af");
    if (!"raw".equals(area.get("type")) || !"luks1".equals(af.get("type"))) {
      throw new LuksException("LUKS2 keyslot area " + area.get("type") + " / af "
          + af.get("type") + " is not supported");
    }
    int areaKeyBytes = (int) number(area, "key_size");
    int stripes = (int) number(af, "stripes");
    long length = (long) keyBytes * stripes;
    long areaSize = number(area, "size");
    if (keyBytes <= 0 || keyBytes > 512 || stripes < 1 || length > areaSize
        || areaSize > 128L << 20) {
      throw new LuksException("LUKS2 keyslot has a bad key size or stripe count");
    }
    String kdfType = string(kdf, "type");
    byte[] salt = base64(kdf, "salt");
    byte[] areaKey = kdfType.equals("pbkdf2")
        ? Kdf.pbkdf2(string(kdf, "hash"), passphrase, salt, number(kdf, "iterations"),
            areaKeyBytes)
        : Kdf.argon2(kdfType, passphrase, salt, (int) number(kdf, "time"),
            (int) number(kdf, "memory"), (int) number(kdf, "cpus"), areaKeyBytes);
    int sectors = (int) ((length + 511) / 512);
    byte[] material = AreaCipher.decrypt(string(area, "encryption"), areaKey,
        Image.read(image, number(area, "offset"), sectors * 512));
    Arrays.fill(areaKey, (byte) 0);
    byte[] key = Kdf.afMerge(material, keyBytes, stripes, string(af, "hash"));
    Arrays.fill(material, (byte) 0);
    return key;
  }

  /** Whether a digest of this keyslot and the data segment accepts {@code key}. */
  private boolean verified(String slotId, byte[] key) throws LuksException {
    for (Object o : map(json.get("digests"), "digests").values()) {
      Map<String, Object> d = map(o, "digest");
      if (!(d.get("keyslots") instanceof List<?> ks) || !ks.contains(slotId)
          || !(d.get("segments") instanceof List<?> ss) || !ss.contains(segmentId)) {
        continue;
      }
      if (!"pbkdf2".equals(d.get("type"))) {
        throw new LuksException("LUKS2 digest type " + d.get("type") + " is not supported");
      }
      byte[] expected = base64(d, "digest");
      byte[] actual = Kdf.pbkdf2(string(d, "hash"), key, base64(d, "salt"),
          number(d, "iterations"), expected.length);
      if (MessageDigest.isEqual(expected, actual)) {
        return true;
      }
    }
    return false;
  }

  @Override
  public String dump() {
    StringBuilder d = new StringBuilder();
    try {
      Map<String, Object> config = map(json.get("config"), "config");
      d.append("LUKS header information\n");
      d.append(String.format("Version:       \t2%n"));
      d.append(String.format("Epoch:         \t%d%n", header.seqid));
      d.append(String.format("Metadata area: \t%d [bytes]%n", header.size));
      d.append(String.format("Keyslots area: \t%s [bytes]%n", config.get("keyslots_size")));
      d.append(String.format("UUID:          \t%s%n", header.uuid));
      d.append(String.format("Label:         \t%s%n",
          header.label.isEmpty() ? "(no label)" : header.label));
      d.append(String.format("Subsystem:     \t%s%n",
          header.subsystem.isEmpty() ? "(no subsystem)" : header.subsystem));
      d.append(String.format("Flags:       \t%s%n%n", config.get("flags") instanceof List<?> f
          && !f.isEmpty() ? String.join(" ", f.stream().map(String::valueOf).toList())
          : "(no flags)"));
      d.append("Data segments:\n");
      d.append(String.format("  %s: crypt%n", segmentId));
      d.append(String.format("\toffset: %d [bytes]%n", segment.offsetBytes()));
      d.append(String.format("\tlength: %s%n", segment.lengthBytes() < 0 ? "(whole device)"
          : segment.lengthBytes() + " [bytes]"));
      d.append(String.format("\tcipher: %s%n", segment.cipher()));
      d.append(String.format("\tsector: %d [bytes]%n%n", segment.sectorSize()));
      d.append("Keyslots:\n");
      for (Map.Entry<String, Object> e : keyslots().entrySet()) {
        Map<String, Object> s = map(e.getValue(), "keyslot");
        d.append(String.format("  %s: %s%n", e.getKey(), s.get("type")));
        if (!"luks2".equals(s.get("type"))) {
          continue;
        }
        Map<String, Object> area = map(s.get("area"), "area");
        Map<String, Object> kdf = map(s.get("kdf"), "kdf");
        Map<String, Object> af = map(s.get("af"), "af");
        d.append(String.format("\tKey:        %d bits%n", number(s, "key_size") * 8));
        long p = priority(s);
        d.append(String.format("\tPriority:   %s%n", p == 0 ? "ignored" : p == 2 ? "prefer"
            : "normal"));
        d.append(String.format("\tCipher:     %s%n", area.get("encryption")));
        d.append(String.format("\tCipher key: %d bits%n", number(area, "key_size") * 8));
        d.append(String.format("\tPBKDF:      %s%n", kdf.get("type")));
        if ("pbkdf2".equals(kdf.get("type"))) {
          d.append(String.format("\tHash:       %s%n", kdf.get("hash")));
          d.append(String.format("\tIterations: %s%n", kdf.get("iterations")));
        } else {
          d.append(String.format("\tTime cost:  %s%n", kdf.get("time")));
          d.append(String.format("\tMemory:     %s%n", kdf.get("memory")));
          d.append(String.format("\tThreads:    %s%n", kdf.get("cpus")));
        }
        d.append(String.format("\tAF stripes: %s%n", af.get("stripes")));
        d.append(String.format("\tAF hash:    %s%n", af.get("hash")));
        d.append(String.format("\tArea offset:%s [bytes]%n", area.get("offset")));
        d.append(String.format("\tArea length:%s [bytes]%n", area.get("size")));
      }
      d.append("Tokens:\n");
      if (json.get("tokens") instanceof Map<?, ?> tokens) {
        for (Map.Entry<?, ?> t : tokens.entrySet()) {
          d.append(String.format("  %s: %s%n", t.getKey(),
              t.getValue() instanceof Map<?, ?> tm ? tm.get("type") : "?"));
        }
      }
      d.append("Digests:\n");
      for (Map.Entry<String, Object> e : map(json.get("digests"), "digests").entrySet()) {
        Map<String, Object> g = map(e.getValue(), "digest");
        d.append(String.format("  %s: %s%n", e.getKey(), g.get("type")));
        d.append(String.format("\tHash:       %s%n", g.get("hash")));
        d.append(String.format("\tIterations: %s%n", g.get("iterations")));
      }
    } catch (LuksException e) {
      d.append("(").append(e.getMessage()).append(")\n");
    }
    return d.toString();
  }
}
