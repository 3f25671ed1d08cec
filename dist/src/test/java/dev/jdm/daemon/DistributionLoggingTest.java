package dev.jdm.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.classic.util.ContextInitializer;
import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.MappedDevice;
import dev.jdm.kernel.TargetRegistry;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The distribution's logback.xml lets the hello target's trace through to standard error, in the
 * shape of the tutorial's kernel log: {@code hello: write, <sector>, <bytes>}.
 */
class DistributionLoggingTest {
  @TempDir Path tmp;

  @Test
  void helloTraceLinesReachStandardError() throws Exception {
    Path disk = tmp.resolve("disk");
    try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
      f.setLength(1 << 20);
    }
    LoggerContext logback = (LoggerContext) LoggerFactory.getILoggerFactory();
    PrintStream stderr = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      logback.reset();
      JoranConfigurator joran = new JoranConfigurator();
      joran.setContext(logback);
      joran.doConfigure(Path.of("src/dist/logback.xml").toFile());

      TargetRegistry registry = new TargetRegistry();
      registry.discover(getClass().getClassLoader(), "class path");
      try (DeviceMapper mapper = new DeviceMapper(registry)) {
        MappedDevice d = mapper.create("my_device_mapper", "0 2048 hello_target " + disk + " 0",
            false);
        CompletableFuture<IoRequest> done = new CompletableFuture<>();
        d.submit(new IoRequest().prepare(IoOp.WRITE, 0, 8, 4096, ByteBuffer.allocateDirect(4096),
            0, done::complete));
        assertTrue(done.get(60, TimeUnit.SECONDS).status().ok());
      }
    } finally {
      System.setErr(stderr);
      logback.reset();
      new ContextInitializer(logback).autoConfig();
    }
    String log = captured.toString(StandardCharsets.UTF_8);
    assertTrue(log.lines().anyMatch(l -> l.matches("\\S+ INFO  hello: write, 8, 4096")), log);
    assertEquals(1, log.lines().filter(l -> l.contains("hello: ")).count(), log);
  }
}
