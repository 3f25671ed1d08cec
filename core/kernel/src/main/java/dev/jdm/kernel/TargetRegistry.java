package dev.jdm.kernel;

import dev.jdm.spi.TargetType;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The target types jdm knows, by name and alias: the kernel's {@code dm_register_target} list. A
 * name is registered once; a type with live targets cannot be unregistered.
 */
public final class TargetRegistry {
  private static final Logger LOG = LoggerFactory.getLogger(TargetRegistry.class);
  private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9_-]*");

  /** A registered type, where it came from, and how many targets of it are alive. */
  public record Registration(TargetType type, String origin, AtomicInteger users) {}

  private final Map<String, Registration> byName = new HashMap<>();

  /**
   * Registers {@code type} under its name and aliases.
   *
   * @param origin where it came from, for messages ("class path", a plugin jar's file name)
   * @throws DmException when a name is taken or malformed, or the type lacks its basics
   */
  public synchronized void register(TargetType type, String origin) throws DmException {
    List<String> names = namesOf(type, origin);
    for (String n : names) {
      Registration old = byName.get(n);
      if (old != null) {
        throw new DmException(origin + ": target type '" + n + "' is already registered by "
            + old.origin());
      }
    }
    Registration r = new Registration(type, origin, new AtomicInteger());
    for (String n : names) {
      byName.put(n, r);
    }
    LOG.debug("registered target {} {} from {}", type.name(), type.version(), origin);
  }

  /** Checks that {@code type} could be registered now, without registering it. */
  public synchronized void checkFree(TargetType type, String origin) throws DmException {
    for (String n : namesOf(type, origin)) {
      Registration old = byName.get(n);
      if (old != null) {
        throw new DmException(origin + ": target type '" + n + "' is already registered by "
            + old.origin());
      }
    }
  }

  private static List<String> namesOf(TargetType type, String origin) throws DmException {
    String name = type.name();
    if (name == null || type.version() == null || type.usage() == null) {
      throw new DmException(origin + ": " + type.getClass().getName()
          + " lacks a name, version or usage");
    }
    List<String> names = new ArrayList<>();
    names.add(name);
    names.addAll(type.aliases());
    for (String n : names) {
      if (!NAME.matcher(n).matches()) {
        throw new DmException(origin + ": invalid target type name '" + n + "'");
      }
    }
    return names;
  }

  /** Removes a type, refused while any table still uses it. */
  public synchronized void unregister(String name) throws DmException {
    Registration r = byName.get(name);
    if (r == null) {
      throw new DmException(name + ": unknown target type");
    }
    if (r.users().get() > 0) {
      throw new DmException(name + ": target type is in use by " + r.users().get() + " target(s)");
    }
    byName.values().removeIf(x -> x == r);
  }

  /** The registration for a table line's type name. */
  public synchronized Optional<Registration> lookup(String name) {
    return Optional.ofNullable(byName.get(name));
  }

  /** Every registered type once, sorted by name. */
  public synchronized List<Registration> list() {
    return byName.values().stream()
        .distinct()
        .sorted(Comparator.comparing(r -> r.type().name()))
        .toList();
  }

  /**
   * Registers every {@link TargetType} that {@link ServiceLoader} finds through {@code loader}.
   *
   * @return one line per provider that could not be loaded or registered
   */
  public List<String> discover(ClassLoader loader, String origin) {
    List<String> problems = new ArrayList<>();
    ServiceLoader<TargetType> services = ServiceLoader.load(TargetType.class, loader);
    var it = services.stream().iterator();
    while (true) {
      try {
        if (!it.hasNext()) {
          break;
        }
        register(it.next().get(), origin);
      } catch (ServiceConfigurationError | DmException e) {
        problems.add(e.getMessage());
      }
    }
    return problems;
  }
}
