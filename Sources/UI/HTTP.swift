import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A request as the routes see it: method, raw path and query, headers, the whole body.
struct Request {
  var method: HTTPMethod
  var path: String
  var query: String?
  var headers: HTTPHeaders
  var body: [UInt8]
}

/// Response headers by name.
struct Headers {
  var fields: [(String, String)] = []
  subscript(_ name: String) -> String? {
    get { fields.first { $0.0.lowercased() == name.lowercased() }?.1 }
    set {
      fields.removeAll { $0.0.lowercased() == name.lowercased() }
      if let newValue { fields.append((name, newValue)) }
    }
  }
}

struct Response {
  enum Body {
    case bytes([UInt8])
    /// A file read in chunks off the event loop; the handle is closed at the end.
    case file(FileHandle)
    /// Server-Sent Events: the watcher's output every 200 ms until the client goes.
    case events(Watcher)
  }

  var status: HTTPResponseStatus
  var headers: Headers
  var body: Body

  init(status: HTTPResponseStatus, headers: Headers = Headers(), body: Body = .bytes([])) {
    self.status = status
    self.headers = headers
    self.body = body
  }

  init(status: HTTPResponseStatus, headers: Headers, text: String) {
    self.init(status: status, headers: headers, body: .bytes(Array(text.utf8)))
  }
}

/// SwiftNIO's HTTP/1 pipeline (its parser, llhttp, reads the wire); each request is answered on a
/// thread off the event loop (store reads block), and the connection closes after the response.
final class HTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart

  static let maxBody = 1 << 20
  let respond: @Sendable (Request) -> Response
  var head: HTTPRequestHead?
  var body: [UInt8] = []
  var tooLarge = false

  init(respond: @escaping @Sendable (Request) -> Response) { self.respond = respond }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .head(let h):
      head = h
      body = []
      tooLarge = false
    case .body(let buffer):
      if body.count + buffer.readableBytes > Self.maxBody {
        tooLarge = true
      } else {
        body += buffer.readableBytesView
      }
    case .end:
      guard let head else { return }
      self.head = nil
      let uri = head.uri
      let split = uri.firstIndex(of: "?")
      let request = Request(
        method: head.method, path: String(uri[..<(split ?? uri.endIndex)]),
        query: split.map { String(uri[uri.index(after: $0)...]) }, headers: head.headers, body: body)
      let loop = context.eventLoop
      let bound = NIOLoopBound(context, eventLoop: loop)
      let version = head.version
      let respond = self.respond
      let large = tooLarge
      Thread.detachNewThread {
        let response =
          large ? Page.error(status: .payloadTooLarge, "request body over 1 MiB") : respond(request)
        Self.send(response, version: version, context: bound, loop: loop)
      }
    }
  }

  /// Writes `part` from a thread off the loop and waits until it is written (back-pressure).
  static func write(
    _ part: HTTPServerResponsePart, context: NIOLoopBound<ChannelHandlerContext>, loop: any EventLoop
  ) -> Bool {
    let done = loop.flatSubmit { () -> EventLoopFuture<Void> in
      let c = context.value
      return c.writeAndFlush(NIOAny(part))
    }
    return (try? done.wait()) != nil
  }

  static func send(
    _ response: Response, version: HTTPVersion, context: NIOLoopBound<ChannelHandlerContext>, loop: any EventLoop
  ) {
    var headers = HTTPHeaders()
    for (k, v) in response.headers.fields { headers.add(name: k, value: v) }
    headers.replaceOrAdd(name: "Connection", value: "close")
    switch response.body {
    case .bytes(let b): headers.replaceOrAdd(name: "Content-Length", value: String(b.count))
    case .file, .events: break
    }
    let head = HTTPResponseHead(version: version, status: response.status, headers: headers)
    var ok = write(.head(head), context: context, loop: loop)
    switch response.body {
    case .bytes(let b):
      if ok && !b.isEmpty { ok = write(.body(.byteBuffer(ByteBuffer(bytes: b))), context: context, loop: loop) }
    case .file(let handle):
      while ok, let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty {
        ok = write(.body(.byteBuffer(ByteBuffer(bytes: chunk))), context: context, loop: loop)
      }
      try? handle.close()
    case .events(let watcher):
      ok = write(.body(.byteBuffer(ByteBuffer(string: "retry: 1000\n\n"))), context: context, loop: loop)
      var quiet = 0
      while ok {
        let text = (try? watcher.poll()) ?? ""
        if !text.isEmpty {
          ok = write(.body(.byteBuffer(ByteBuffer(string: text))), context: context, loop: loop)
          quiet = 0
        } else {
          quiet += 1
          // A comment now and then finds a closed connection (the write fails) and keeps proxies open.
          if quiet >= 75 {
            ok = write(.body(.byteBuffer(ByteBuffer(string: ": keepalive\n\n"))), context: context, loop: loop)
            quiet = 0
          }
        }
        if ok { usleep(200_000) }
      }
    }
    loop.execute {
      let c = context.value
      c.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in c.close(promise: nil) }
    }
  }
}

enum HTTPServer {
  /// Binds `host:port` and returns the channel (its local address has the real port).
  static func bind(host: String, port: Int, respond: @escaping @Sendable (Request) -> Response) throws -> any Channel {
    let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .serverChannelOption(.backlog, value: 256)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
          try channel.pipeline.syncOperations.addHandler(HTTPHandler(respond: respond))
        }
      }
    return try bootstrap.bind(host: host, port: port).wait()
  }
}
