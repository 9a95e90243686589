#!/usr/bin/python3
"""A loopback RTSP server for Panoptes' live-camera tests and soak (GStreamer's gst-rtsp-server).

    rtsp_server.py PORT [--path /cam] [--size 320x240] [--fps 25] [--pattern ball] [--file CLIP]
    rtsp_server.py PORT --stall
    rtsp_server.py PORT --udp-only      (refuses RTP over TCP with 461, like VLC's RTSP output)
    rtsp_server.py PORT --rtcp-clock running-time   (sender reports on a clock that is not the
                                                     wall clock: a camera whose clock was never set)

Serves H.264 (x264, baseline-like: no B-frames, a keyframe every second) at rtsp://127.0.0.1:PORT/cam,
over TCP or UDP (whatever the client asks), from a live test pattern, or from a video file that is
decoded and re-encoded in a loop. Binds 127.0.0.1 only. Prints "ready" on stdout once listening.
Ends on SIGTERM/SIGINT. Its RTCP sender reports give the capture times on this machine's wall
clock (rtpbin's ntp-time-source "ntp"), as an NTP-synchronised camera's do; --rtcp-clock picks
another of rtpbin's sources ("running-time": seconds since the stream began, "unix": the wall clock
read as NTP, 70 years off).

--stall listens on the port, accepts connections and never sends a byte (a camera that hangs):
plain sockets, no GStreamer needed.

Exit status 77 when GStreamer's RTSP server or a needed plugin is missing (tests skip on it).
Needs Debian's python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-{base,good,bad,ugly} gstreamer1.0-libav.
"""
import argparse
import signal
import socket
import sys
import time


def stall(port):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(16)
    print("ready", flush=True)
    held = []
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    while True:
        conn, _ = srv.accept()
        held.append(conn)  # keep it open, read nothing, answer nothing


def serve(args):
    try:
        import gi
        gi.require_version("Gst", "1.0")
        gi.require_version("GstRtspServer", "1.0")
        from gi.repository import GLib, Gst, GstRtspServer
    except (ImportError, ValueError) as e:
        print(f"rtsp_server: GStreamer RTSP server not available ({e}); install python3-gi "
              "gir1.2-gst-rtsp-server-1.0", file=sys.stderr)
        sys.exit(77)
    Gst.init(None)
    for el in ("x264enc", "rtph264pay", "videotestsrc", "decodebin", "videoconvert"):
        if Gst.ElementFactory.find(el) is None:
            print(f"rtsp_server: GStreamer element '{el}' missing (gstreamer1.0-plugins-*)", file=sys.stderr)
            sys.exit(77)

    w, h = args.size.split("x")
    caps = f"video/x-raw,width={w},height={h},framerate={args.fps}/1,format=I420"
    # key-int-max = fps: a client joining the shared stream waits at most a second for a keyframe.
    enc = (f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={args.fps} bframes=0 "
           f"bitrate={args.kbps} ! video/x-h264,profile=constrained-baseline ! "
           "rtph264pay name=pay0 pt=96 config-interval=1")
    if args.file:
        # multifilesrc loop=true restarts the file at its end; decodebin re-encodes at a steady rate.
        launch = (f"( multifilesrc location={args.file} loop=true ! decodebin ! videoconvert ! videoscale ! "
                  f"videorate ! {caps} ! {enc} )")
    else:
        launch = f"( videotestsrc is-live=true pattern={args.pattern} ! {caps} ! {enc} )"

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    if args.rtcp_clock:
        class Media(GstRtspServer.RTSPMedia):
            def do_setup_rtpbin(self, rtpbin):
                Gst.util_set_object_arg(rtpbin, "ntp-time-source", args.rtcp_clock)
                return True

        factory.set_media_gtype(Media)
    factory.set_shared(True)  # every client sees the same live stream, as with a real camera
    if args.udp_only:
        from gi.repository import GstRtsp
        factory.set_protocols(GstRtsp.RTSPLowerTrans.UDP)  # SETUP over TCP answers 461
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        print(f"rtsp_server: cannot listen on 127.0.0.1:{args.port}", file=sys.stderr)
        sys.exit(1)
    loop = GLib.MainLoop()

    def quit_(*_):
        loop.quit()
        return GLib.SOURCE_REMOVE

    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGTERM, quit_)
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGINT, quit_)
    print("ready", flush=True)
    loop.run()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("port", type=int)
    ap.add_argument("--path", default="/cam")
    ap.add_argument("--size", default="320x240")
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--kbps", type=int, default=800)
    ap.add_argument("--pattern", default="ball")
    ap.add_argument("--file")
    ap.add_argument("--stall", action="store_true")
    ap.add_argument("--udp-only", action="store_true")
    ap.add_argument("--rtcp-clock", choices=["ntp", "unix", "running-time", "clock-time"])
    args = ap.parse_args()
    if args.stall:
        stall(args.port)
    else:
        serve(args)


if __name__ == "__main__":
    main()
