package dev.jdm.targets.error;

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

/**
 * The {@code error} target: every request in the segment fails with EIO. It fills a range that
 * must not be used, or stands in for a lost device. It takes no arguments. See {@code error.md}.
 */
public final class ErrorTarget implements Target {
  private ErrorTarget() {}

  /** The type registered as {@code error}. */
  public static final class Type implements TargetType {
    @Override
    public String name() {
      return "error";
    }

    @Override
    public Version version() {
      return Version.of(1, 6, 0);
    }

    @Override
    public String usage() {
      return "";
    }

    @Override
    public Target create(TargetContext context, long lengthInSectors, List<String> args)
        throws TargetException {
      if (!args.isEmpty()) {
        throw new TargetException("Invalid argument count");
      }
      return new ErrorTarget();
    }
  }

  @Override
  public MapResult map(IoRequest request) {
    return MapResult.KILL;
  }

  /**
   * Every op that reaches a target, so that DISCARD and WRITE_ZEROES fail with EIO like the rest
   * rather than being refused as unsupported.
   */
  @Override
  public boolean supports(IoOp op) {
    return op != IoOp.FLUSH;
  }

  @Override
  public String status(StatusType type) {
    return "";
  }
}
