package dev.jdm.kernel;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.util.List;
import java.util.Optional;

/**
 * Starts a frontend from configuration; found with {@link java.util.ServiceLoader} by the daemon, so
 * the daemon never names a frontend. Each provider reads its own section {@code jdm.frontends.<name>}
 * (defaults in its module's {@code reference.conf}) and does nothing when {@code enabled} is false.
 */
public interface FrontendProvider {
  /** The frontend's name, also its config section under {@code jdm.frontends}. */
  String name();

  /**
   * Starts the frontend over {@code mapper} if its section says it is enabled.
   *
   * @param config the whole resolved configuration
   * @return the running frontend, or empty when disabled
   * @throws Exception with a one-line message when it cannot start (address in use, bad mount point)
   */
  Optional<Frontend> start(DeviceMapper mapper, Config config) throws Exception;

  /**
   * Every problem of this frontend's section of {@code config} (the whole resolved
   * configuration), each with its full key and the origin of its value, so that the daemon can
   * report all of a file's problems at once before it starts anything. None by default.
   */
  default List<ConfigException.ValidationProblem> check(Config config) {
    return List.of();
  }
}
