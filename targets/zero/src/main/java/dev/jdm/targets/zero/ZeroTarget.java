package dev.jdm.targets.zero;

import dev.jdm.spi.ExtentSink;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.MapResult;
import dev.jdm.spi.StatusType;
import dev.jdm.spi.Target;
import dev.jdm.spi.TargetContext;
import dev.jdm.spi.TargetException;
import dev.jdm.spi.TargetType;
import dev.jdm.spi.Version;
import java.util.List;

/**
 * The {@code zero} target: a segment of nothing. Reads return zeros, writes, discards and
 * write-zeroes succeed and store nothing. It takes no arguments. See {@code zero.md}.
 */
public final class ZeroTarget implements Target {
  private ZeroTarget() {}

  /** The type registered as {@code zero}. */
  public static final class Type implements TargetType {
    @Override
    public String name() {
      return "zero";
    }

    @Override
    public Version version() {
      return Version.of(1, 2, 0);
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
      return new ZeroTarget();
    }
  }

  @Override
  public MapResult map(IoRequest request) {
    if (request.op() == IoOp.READ) {
      request.fillZeros();
    }
    request.complete(IoStatus.OK);
    return MapResult.SUBMITTED;
  }

  /** Every op that reaches a target: nothing is stored, so each is done at once. */
  @Override
  public boolean supports(IoOp op) {
    return op != IoOp.FLUSH;
  }

  @Override
  public void blockStatus(long sector, long sectors, ExtentSink sink) {
    sink.extent(sectors, ExtentSink.HOLE | ExtentSink.ZERO);
  }

  @Override
  public String status(StatusType type) {
    return "";
  }
}
