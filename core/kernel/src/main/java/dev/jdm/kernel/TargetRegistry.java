package dev.jdm.kernel;

import dev.jdm.spi.TargetType;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The target types jdm knows, by name and alias: the kernel's {@code dm_register_target} list. A
 * name is registered once; a type that a live or inactive table uses cannot be unregistered.
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
  public void register(TargetType type, String origin) throws DmException {
    registerAll(List.of(type), origin);
  }

  /**
   * Registers all of {@code types}, or none of them when one cannot be: a plugin's types come and
   * go together.
   *
   * @param origin where they came from, for messages ("class path", a plugin jar's file name)
   * @throws DmException naming the first name taken or malformed, or the first type lacking its
   *     basics
   */
  public synchronized void registerAll(List<TargetType> types, String origin) throws DmException {
    List<List<String>> names = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    for (TargetType type : types) {
      List<String> ns = namesOf(type, origin);
      for (String n : ns) {
        Registration old = byName.get(n);
        if (old != null) {
          throw new DmException(origin + ": target type '" + n + "' is already registered by "
              + old.origin());
        }
        if (!seen.add(n)) {
          throw new DmException(origin + ": target type '" + n + "' is declared twice");
        }
      }
      names.add(ns);
    }
    for (int i = 0; i < types.size(); i++) {
      TargetType type = types.get(i);
      Registration r = new Registration(type, origin, new AtomicInteger());
      names.get(i).forEach(n -> byName.put(n, r));
      LOG.debug("registered target {} {} from {}", type.name(), type.version(), origin);
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
  public void unregister(String name) throws DmException {
    Registration r = lookup(name).orElseThrow(
        () -> new DmException(name + ": unknown target type"));
    unregisterAll(List.of(r.type()));
  }

  /**
   * Removes all of {@code types} (each with its aliases), or none of them while a live or inactive
   * table uses one: the kernel's {@code dm_unregister_target}, refused as rmmod is for a module in
   * use.
   *
   * @throws DmException {@code Device or resource busy: ...}, naming the first type in use
   */
  public synchronized void unregisterAll(Collection<TargetType> types) throws DmException {
    for (Registration r : list()) {
      if (types.contains(r.type()) && r.users().get() > 0) {
        throw new DmException("Device or resource busy: target type '" + r.type().name()
            + "' is in use by " + r.users().get() + " target(s)");
      }
    }
    byName.values().removeIf(r -> types.contains(r.type()));
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
