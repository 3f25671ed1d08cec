package dev.jdm.targets.crypt;

import dev.jdm.spi.Args;
import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.DeviceMode;
import dev.jdm.spi.EndIoResult;
import dev.jdm.spi.IoCompletion;
import dev.jdm.spi.IoLimits;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.MapResult;
import dev.jdm.spi.RequestData;
import dev.jdm.spi.StatusType;
import dev.jdm.spi.Target;
import dev.jdm.spi.TargetContext;
import dev.jdm.spi.TargetException;
import dev.jdm.spi.TargetType;
import dev.jdm.spi.Version;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The {@code crypt} target: the segment is stored encrypted on one device, sector for sector as the
 * kernel's dm-crypt stores it, so that either can read what the other wrote. Table arguments:
 * {@code <cipher> <key> <iv_offset> <device_path> <offset> [<#opt_params> <opt_params>...]}. See
 * {@code crypt.md}.
 *
 * <p>Writes are encrypted into a pooled buffer (never in the caller's buffer) that a request of the
 * target's own carries to the device; reads go to the device as they are and are decrypted in place
 * in {@link #endIo}. The crypto runs on the thread that maps or completes the request.
 */
public final class CryptTarget implements Target {
  /** The largest piece the core hands over: bounds each pooled write buffer (1 MiB). */
  private static final int MAX_IO_SECTORS = 2048;

  private final BlockDevice device;
  private final List<BlockDevice> devices;
  private final String cipherText;
  private final CipherSpec spec;
  private final long ivOffset;
  private final long offset;
  private final int sectorSize;
  /** log2 of the crypto sector in 512-byte sectors. */
  private final int shift;
  private final boolean ivLargeSectors;
  private final Set<String> features;
  private final boolean allowDiscards;
  private final int keySize;
  private final ThreadLocal<SectorCipher> ciphers;
  private volatile Key key;
  private volatile boolean suspended;

  /** The volume key; {@code valid} false after {@code key wipe}. Compared by identity. */
  private record Key(byte[] bytes, boolean valid) {}

  private CryptTarget(BlockDevice device, String cipherText, CipherSpec spec, byte[] key,
      long ivOffset, long offset, Options options) {
    this.device = device;
    this.devices = List.of(device);
    this.cipherText = cipherText;
    this.spec = spec;
    this.key = new Key(key, true);
    this.keySize = key.length;
    this.ivOffset = ivOffset;
    this.offset = offset;
    this.sectorSize = options.sectorSize;
    this.shift = Integer.numberOfTrailingZeros(sectorSize >> IoRequest.SECTOR_SHIFT);
    this.ivLargeSectors = options.ivLargeSectors;
    this.features = options.features;
    this.allowDiscards = features.contains("allow_discards");
    this.ciphers = ThreadLocal.withInitial(() -> new SectorCipher(spec, sectorSize));
  }

  /** The type registered as {@code crypt}. */
  public static final class Type implements TargetType {
    @Override
    public String name() {
      return "crypt";
    }

    @Override
    public Version version() {
      return Version.of(1, 22, 0);
    }

    @Override
    public Set<Feature> features() {
      return Set.of(Feature.END_IO);
    }

    @Override
    public String usage() {
      return "<cipher> <key> <iv_offset> <device_path> <offset> [<#opt_params> <opt_params>...]";
    }

    @Override
    public Target create(TargetContext context, long lengthInSectors, List<String> args)
        throws TargetException {
      if (args.size() < 5) {
        throw new TargetException("Not enough arguments");
      }
      String keyText = args.get(1);
      if (keyText.startsWith(":")) {
        throw new TargetException("Kernel keyring keys are not supported");
      }
      Options options = Options.parse(args.subList(5, args.size()), lengthInSectors);
      CipherSpec spec = CipherSpec.parse(args.get(0));
      byte[] key = decodeKey(keyText);
      if (key == null || !spec.keyLengthValid(key.length)) {
        throw new TargetException("Error decoding and setting key");
      }
      long step = options.sectorSize >> IoRequest.SECTOR_SHIFT;
      long ivOffset = Args.decimal(args.get(2), 0, Long.MAX_VALUE, "Invalid iv_offset sector");
      if ((ivOffset & (step - 1)) != 0) {
        throw new TargetException("Invalid iv_offset sector");
      }
      long offset = Args.decimal(args.get(4), 0, Long.MAX_VALUE, "Invalid device sector");
      DeviceMode mode = context.readOnly() ? DeviceMode.READ_ONLY : DeviceMode.READ_WRITE;
      BlockDevice device = context.openDevice(args.get(3), mode);
      if (offset > device.sizeInSectors() - lengthInSectors) {
        throw new TargetException("Device too small");
      }
      return new CryptTarget(device, args.get(0), spec, key, ivOffset, offset, options);
    }
  }

  /** The optional parameters, as dm-crypt's {@code crypt_ctr_optional} reads them. */
  private record Options(Set<String> features, int sectorSize, boolean ivLargeSectors) {
    /** Flags in the order the kernel prints them. */
    private static final List<String> FLAGS = List.of("allow_discards", "same_cpu_crypt",
        "submit_from_crypt_cpus", "no_read_workqueue", "no_write_workqueue");

    static Options parse(List<String> words, long length) throws TargetException {
      Set<String> flags = new java.util.LinkedHashSet<>();
      int sectorSize = IoRequest.SECTOR_SIZE;
      boolean ivLarge = false;
      if (words.isEmpty()) {
        return new Options(Set.of(), sectorSize, false);
      }
      Args a = new Args(words);
      for (String w : a.group(0, 8, "Invalid number of feature args")) {
        String lower = w.toLowerCase(Locale.ROOT);
        if (FLAGS.contains(lower)) {
          flags.add(lower);
        } else if (lower.equals("iv_large_sectors")) {
          ivLarge = true;
        } else if (lower.startsWith("sector_size:")) {
          sectorSize = (int) Args.decimal(lower.substring(12), 0, 65535,
              "Invalid feature value for sector_size");
          if (sectorSize < IoRequest.SECTOR_SIZE || sectorSize > 4096
              || Integer.bitCount(sectorSize) != 1) {
            throw new TargetException("Invalid feature value for sector_size");
          }
          if ((length & ((sectorSize >> IoRequest.SECTOR_SHIFT) - 1)) != 0) {
            throw new TargetException("Device size is not multiple of sector_size feature");
          }
        } else if (lower.startsWith("integrity:")) {
          throw new TargetException("Integrity profiles are not supported");
        } else {
          throw new TargetException("Invalid feature arguments");
        }
      }
      a.end("Invalid number of feature args");
      Set<String> ordered = new java.util.LinkedHashSet<>();
      FLAGS.stream().filter(flags::contains).forEach(ordered::add);
      return new Options(ordered, sectorSize, ivLarge);
    }
  }

  /** A hex key, or {@code -} for none; null when it is neither. */
  private static byte[] decodeKey(String text) {
    if (text.equals("-")) {
      return new byte[0];
    }
    if (text.isEmpty() || text.length() % 2 != 0) {
      return null;
    }
    try {
      return HexFormat.of().parseHex(text);
    } catch (IllegalArgumentException notHex) {
      return null;
    }
  }

  // ------------------------------------------------------------------------------ data path

  @Override
  public RequestData newRequestData() {
    return new CryptRequest();
  }

  @Override
  public MapResult map(IoRequest request) {
    Key k = key;
    if (!k.valid) {
      return MapResult.REQUEUE;
    }
    long rel = request.sector();
    switch (request.op()) {
      case READ -> {
        if (misaligned(request)) {
          return MapResult.KILL;
        }
        request.remap(device, offset + rel);
        return MapResult.REMAPPED;
      }
      case WRITE -> {
        if (misaligned(request)) {
          return MapResult.KILL;
        }
        int bytes = request.bytes();
        CryptRequest d = request.targetData();
        ByteBuffer out = d.buffer(bytes);
        SectorCipher c = cipher(k);
        c.encrypt(request.data(), request.dataOffset(), out, 0, bytes, ivSector(rel), ivStep());
        d.original = request;
        d.write.prepare(IoOp.WRITE, request.flags(), offset + rel, bytes, out, 0, d);
        device.submit(d.write);
        return MapResult.SUBMITTED;
      }
      case DISCARD -> {
        request.remap(device, offset + rel);
        return MapResult.REMAPPED;
      }
      default -> {
        return MapResult.KILL;
      }
    }
  }

  @Override
  public EndIoResult endIo(IoRequest request, IoStatus status) {
    if (request.op() == IoOp.READ && status == IoStatus.OK) {
      Key k = key;
      if (!k.valid) {
        return EndIoResult.REQUEUE;
      }
      long rel = request.sector() - offset;
      cipher(k).decrypt(request.data(), request.dataOffset(), request.bytes(), ivSector(rel),
          ivStep());
    }
    return EndIoResult.DONE;
  }

  /** Whether a request is not made of whole crypto sectors (the kernel kills those). */
  private boolean misaligned(IoRequest r) {
    return ((r.sector() & ((1L << shift) - 1)) | (r.bytes() & (sectorSize - 1))) != 0;
  }

  /** The IV sector of the segment's sector {@code rel}, dm-crypt's {@code iv_sector}. */
  private long ivSector(long rel) {
    long s = rel + ivOffset;
    return ivLargeSectors ? s >>> shift : s;
  }

  private long ivStep() {
    return ivLargeSectors ? 1 : 1L << shift;
  }

  private SectorCipher cipher(Key k) {
    SectorCipher c = ciphers.get();
    c.key(k, k.bytes);
    return c;
  }

  /**
   * Per-request state: the buffer a write is encrypted into and the request of the target's own
   * that writes it, completing the original when it ends.
   */
  private static final class CryptRequest implements RequestData, IoCompletion {
    private static final ByteBuffer NONE = ByteBuffer.allocateDirect(0);
    final IoRequest write = new IoRequest();
    IoRequest original;
    private ByteBuffer buffer = NONE;

    /** A direct buffer of at least {@code bytes}, kept for the next request. */
    ByteBuffer buffer(int bytes) {
      if (buffer.capacity() < bytes) {
        int size = Math.min(MAX_IO_SECTORS << IoRequest.SECTOR_SHIFT,
            Math.max(4096, Integer.highestOneBit(bytes - 1) << 1));
        buffer = ByteBuffer.allocateDirect(Math.max(size, bytes));
      }
      return buffer;
    }

    @Override
    public void reset() {
      original = null;
    }

    @Override
    public void completed(IoRequest w) {
      IoRequest o = original;
      original = null;
      o.complete(w.status());
    }
  }

  // ------------------------------------------------------------------------------ the rest

  @Override
  public boolean supports(IoOp op) {
    return op == IoOp.READ || op == IoOp.WRITE
        || (op == IoOp.DISCARD && allowDiscards && device.supports(IoOp.DISCARD));
  }

  @Override
  public long maxIoSectors() {
    return MAX_IO_SECTORS;
  }

  @Override
  public List<BlockDevice> devices() {
    return devices;
  }

  @Override
  public IoLimits limits() {
    return device.limits().combine(new IoLimits(sectorSize, sectorSize, 0));
  }

  @Override
  public String status(StatusType type) {
    return switch (type) {
      case INFO -> "";
      case TABLE -> table();
    };
  }

  private String table() {
    StringBuilder s = new StringBuilder(cipherText).append(' ');
    s.append(keySize == 0 ? "-" : HexFormat.of().formatHex(key.bytes));
    s.append(' ').append(ivOffset).append(' ').append(device.path()).append(' ').append(offset);
    int n = features.size() + (sectorSize != IoRequest.SECTOR_SIZE ? 1 : 0)
        + (ivLargeSectors ? 1 : 0);
    if (n > 0) {
      s.append(' ').append(n);
      features.forEach(f -> s.append(' ').append(f));
      if (sectorSize != IoRequest.SECTOR_SIZE) {
        s.append(" sector_size:").append(sectorSize);
      }
      if (ivLargeSectors) {
        s.append(" iv_large_sectors");
      }
    }
    return s.toString();
  }

  /** {@code key set <key>} and {@code key wipe}, only while the device is suspended. */
  @Override
  public String message(List<String> words) throws TargetException {
    if (words.size() >= 2 && words.get(0).equalsIgnoreCase("key")) {
      if (!suspended) {
        throw new TargetException("not suspended during key manipulation");
      }
      if (words.size() == 3 && words.get(1).equalsIgnoreCase("set")) {
        if (words.get(2).startsWith(":")) {
          throw new TargetException("Kernel keyring keys are not supported");
        }
        byte[] k = decodeKey(words.get(2));
        if (k == null || k.length != keySize) {
          throw new TargetException("Error decoding and setting key");
        }
        replaceKey(new Key(k, true));
        return "";
      }
      if (words.size() == 2 && words.get(1).equalsIgnoreCase("wipe")) {
        replaceKey(new Key(new byte[keySize], false));
        return "";
      }
    }
    throw new TargetException("unrecognised message received");
  }

  private void replaceKey(Key k) {
    Key old = key;
    key = k;
    Arrays.fill(old.bytes, (byte) 0);
  }

  @Override
  public void postsuspend() {
    suspended = true;
  }

  @Override
  public void preresume() throws TargetException {
    if (!key.valid) {
      throw new TargetException("aborting resume - crypt key is not set");
    }
  }

  @Override
  public void resume() {
    suspended = false;
  }

  @Override
  public void close() {
    ciphers.remove();
    Arrays.fill(key.bytes, (byte) 0);
  }
}
