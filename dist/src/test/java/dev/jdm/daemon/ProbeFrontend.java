package dev.jdm.daemon;

import com.typesafe.config.Config;
import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.Frontend;
import dev.jdm.kernel.FrontendProvider;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A frontend for tests, found through ServiceLoader like the real ones: it serves nothing, and
 * records when it closes and how many devices still existed then.
 */
public final class ProbeFrontend implements Frontend {
  /** "closed with N device(s)" per close, in order. */
  public static final List<String> EVENTS = new CopyOnWriteArrayList<>();

  private final DeviceMapper mapper;
  private final String where;

  private ProbeFrontend(DeviceMapper mapper, String where) {
    this.mapper = mapper;
    this.where = where;
  }

  @Override
  public String describe() {
    return "probe at " + where;
  }

  @Override
  public void close() {
    EVENTS.add("closed with " + mapper.list().size() + " device(s)");
  }

  /** Starts the probe when {@code jdm.frontends.probe.enabled}. */
  public static final class Provider implements FrontendProvider {
    @Override
    public String name() {
      return "probe";
    }

    @Override
    public Optional<Frontend> start(DeviceMapper mapper, Config config) throws Exception {
      Config c = config.getConfig("jdm.frontends.probe");
      if (!c.getBoolean("enabled")) {
        return Optional.empty();
      }
      if (!c.getString("fail").isEmpty()) {
        throw new Exception(c.getString("fail"));
      }
      return Optional.of(new ProbeFrontend(mapper, c.getString("where")));
    }
  }
}
