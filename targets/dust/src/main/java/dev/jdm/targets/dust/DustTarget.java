package dev.jdm.targets.dust;

import dev.jdm.spi.Args;
import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.DeviceMode;
import dev.jdm.spi.ExtentSink;
import dev.jdm.spi.IoLimits;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.MapResult;
import dev.jdm.spi.StatusType;
import dev.jdm.spi.Target;
import dev.jdm.spi.TargetContext;
import dev.jdm.spi.TargetException;
import dev.jdm.spi.TargetType;
import dev.jdm.spi.Version;
import java.util.List;
import java.util.Locale;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code dust} target: linear, with a list of bad blocks that fail reads once the emulation is
 * enabled, as a disk with unreadable sectors does; a write to a bad block takes it off the list (the
 * disk remapped the sector). Blocks are {@code <blksz>} bytes, numbered on the device from sector 0.
 * Table arguments: {@code <dev_path> <offset> <blksz>}. See {@code dust.md}.
 */
public final class DustTarget implements Target {
  private static final Logger LOG = LoggerFactory.getLogger("dev.jdm.targets.dust");
  /** The largest block the kernel takes: 1 GiB. */
  private static final long MAX_BLOCK_SECTORS = 2097152;

  private final String name;
  private final BlockDevice device;
  private final long offset;
  private final int blockSize;
  private final int blockShift;
  private final List<BlockDevice> devices;
  /** Bad block number to the writes it still fails; guarded by itself. */
  private final TreeMap<Long, int[]> badBlocks = new TreeMap<>();
  private volatile boolean failReads;
  private volatile boolean quiet;

  private DustTarget(String name, BlockDevice device, long offset, int blockSize) {
    this.name = name;
    this.device = device;
    this.offset = offset;
    this.blockSize = blockSize;
    this.blockShift = Integer.numberOfTrailingZeros(blockSize >>> IoRequest.SECTOR_SHIFT);
    this.devices = List.of(device);
  }

  /** The type registered as {@code dust}. */
  public static final class Type implements TargetType {
    @Override
    public String name() {
      return "dust";
    }

    @Override
    public Version version() {
      return Version.of(1, 0, 0);
    }

    @Override
    public String usage() {
      return "<dev_path> <offset> <blksz>";
    }

    @Override
    public Target create(TargetContext context, long lengthInSectors, List<String> args)
        throws TargetException {
      if (args.size() != 3) {
        throw new TargetException("Invalid argument count");
      }
      long blockSize = Args.decimal(args.get(2), 1, 0xffff_ffffL, "Invalid block size parameter");
      if (blockSize < IoRequest.SECTOR_SIZE) {
        throw new TargetException("Block size must be at least 512");
      }
      if (Long.bitCount(blockSize) != 1) {
        throw new TargetException("Block size must be a power of 2");
      }
      if (blockSize >>> IoRequest.SECTOR_SHIFT > Math.min(lengthInSectors, MAX_BLOCK_SECTORS)) {
        throw new TargetException("Block size is too large");
      }
      long offset = Args.decimal(args.get(1), 0, Long.MAX_VALUE, "Invalid device offset sector");
      DeviceMode mode = context.readOnly() ? DeviceMode.READ_ONLY : DeviceMode.READ_WRITE;
      BlockDevice device = context.openDevice(args.get(0), mode);
      if (offset > device.sizeInSectors() - lengthInSectors) {
        throw new TargetException("Device too small");
      }
      return new DustTarget(context.deviceName(), device, offset, (int) blockSize);
    }
  }

  /** No request crosses a block of the segment, as the kernel sets {@code max_io_len}. */
  @Override
  public long maxIoSectors() {
    return 1L << blockShift;
  }

  @Override
  public MapResult map(IoRequest request) {
    long sector = offset + request.sector();
    request.remap(device, sector);
    if (!failReads) {
      return MapResult.REMAPPED;
    }
    long block = sector >>> blockShift;
    if (request.op() == IoOp.READ) {
      synchronized (badBlocks) {
        return badBlocks.containsKey(block) ? MapResult.KILL : MapResult.REMAPPED;
      }
    }
    synchronized (badBlocks) {
      int[] writeFails = badBlocks.get(block);
      if (writeFails == null) {
        return MapResult.REMAPPED;
      }
      if (writeFails[0] > 0) {
        writeFails[0]--;
        return MapResult.KILL;
      }
      badBlocks.remove(block);
    }
    if (!quiet) {
      LOG.info("{}: dust: block {} removed from badblocklist by write", name, block);
    }
    return MapResult.REMAPPED;
  }

  @Override
  public String message(List<String> words) throws TargetException {
    String word = words.isEmpty() ? "" : words.getFirst();
    String verb = word.toLowerCase(Locale.ROOT);
    switch (words.size()) {
      case 1 -> {
        return command(word, verb);
      }
      case 2 -> {
        return blockCommand(word, verb, block(words.get(1)), 0);
      }
      case 3 -> {
        long block = Args.decimal(words.get(1), 0, Long.MAX_VALUE, "Invalid argument");
        long writeFails = Args.decimal(words.get(2), 0, 0xffff_ffffL, "Invalid argument");
        if (writeFails > 255) {
          throw new TargetException("selected write fail count out of range");
        }
        inRange(block);
        if (!verb.equals("addbadblock")) {
          throw new TargetException("unrecognized message '" + word + "' received");
        }
        return blockCommand(word, verb, block, (int) writeFails);
      }
      default -> throw new TargetException("invalid number of arguments '" + words.size() + "'");
    }
  }

  private String command(String word, String verb) throws TargetException {
    switch (verb) {
      case "addbadblock", "removebadblock", "queryblock" ->
          throw new TargetException(word + " requires an additional argument");
      case "disable" -> {
        LOG.info("{}: dust: disabling read failures on bad sectors", name);
        failReads = false;
        return "";
      }
      case "enable" -> {
        LOG.info("{}: dust: enabling read failures on bad sectors", name);
        failReads = true;
        return "";
      }
      case "quiet" -> {
        quiet = !quiet;
        return "";
      }
      case "countbadblocks" -> {
        synchronized (badBlocks) {
          return "countbadblocks: " + badBlocks.size() + " badblock(s) found";
        }
      }
      case "clearbadblocks" -> {
        synchronized (badBlocks) {
          boolean any = !badBlocks.isEmpty();
          badBlocks.clear();
          return any ? "dust_clear_badblocks: badblocks cleared"
              : "dust_clear_badblocks: no badblocks found";
        }
      }
      case "listbadblocks" -> {
        synchronized (badBlocks) {
          if (badBlocks.isEmpty()) {
            return "No blocks in badblocklist";
          }
          StringBuilder out = new StringBuilder();
          badBlocks.keySet().forEach(b -> out.append(b).append('\n'));
          return out.toString();
        }
      }
      default -> throw new TargetException("unrecognized message '" + word + "' received");
    }
  }

  /** A block number of the device, as the kernel bounds it. */
  private long block(String text) throws TargetException {
    return inRange(Args.decimal(text, 0, Long.MAX_VALUE, "Invalid argument"));
  }

  private long inRange(long block) throws TargetException {
    if (block > device.sizeInSectors() >>> blockShift) {
      throw new TargetException("selected block value out of range");
    }
    return block;
  }

  private String blockCommand(String word, String verb, long block, int writeFails)
      throws TargetException {
    switch (verb) {
      case "addbadblock" -> {
        synchronized (badBlocks) {
          if (badBlocks.containsKey(block)) {
            throw new TargetException("block " + block + " already in badblocklist");
          }
          badBlocks.put(block, new int[] {writeFails});
        }
        if (!quiet) {
          LOG.info("{}: dust: badblock added at block {} with write fail count {}", name, block,
              writeFails);
        }
        return "";
      }
      case "removebadblock" -> {
        synchronized (badBlocks) {
          if (badBlocks.remove(block) == null) {
            throw new TargetException("block " + block + " not found in badblocklist");
          }
        }
        if (!quiet) {
          LOG.info("{}: dust: badblock removed at block {}", name, block);
        }
        return "";
      }
      case "queryblock" -> {
        synchronized (badBlocks) {
          return "dust_query_block: block " + block
              + (badBlocks.containsKey(block) ? " found" : " not found") + " in badblocklist";
        }
      }
      default -> throw new TargetException("unrecognized message '" + word + "' received");
    }
  }

  /** Discards as the device does; no write-zeroes (the kernel's dust declares none). */
  @Override
  public boolean supports(IoOp op) {
    return op == IoOp.READ || op == IoOp.WRITE || (op == IoOp.DISCARD && device.supports(op));
  }

  @Override
  public List<BlockDevice> devices() {
    return devices;
  }

  @Override
  public IoLimits limits() {
    return device.limits();
  }

  @Override
  public void blockStatus(long sector, long sectors, ExtentSink sink) {
    device.blockStatus(offset + sector, sectors, sink);
  }

  @Override
  public String status(StatusType type) {
    return switch (type) {
      case INFO -> device.path() + (failReads ? " fail_read_on_bad_block" : " bypass")
          + (quiet ? " quiet" : " verbose");
      case TABLE -> device.path() + " " + offset + " " + blockSize;
    };
  }
}
