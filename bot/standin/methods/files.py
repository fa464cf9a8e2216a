"""`files.*`: Slack's two-step external upload (get an upload URL, complete the upload) and file info.

The bytes themselves arrive at the server's upload endpoint between the two calls.
"""

from __future__ import annotations

from typing import Any

from bot.standin.methods.calls import Args, Handler, check_thread, postable_channel, registrar
from bot.standin.state import SlackError, UploadedFile, Workspace

METHODS: dict[str, Handler] = {}
method = registrar(METHODS)


@method("files.getUploadURLExternal")
def files_get_upload_url_external(ws: Workspace, args: Args) -> dict[str, Any]:
    filename = args.required("filename")
    length = args.int("length", -1)
    if length < 0:
        raise SlackError("invalid_arguments", messages=["missing required field: length"])
    file_id = ws.new_id("F", 11)
    ws.files[file_id] = UploadedFile(
        id=file_id,
        name=filename,
        length=length,
        user=ws.bot_user_id,
        created=int(ws.now()),
        alt_txt=args.str("alt_txt"),
        snippet_type=args.str("snippet_type"),
    )
    return {"upload_url": f"{ws.base_url}upload/v1/{file_id}", "file_id": file_id}


@method("files.completeUploadExternal")
def files_complete_upload_external(ws: Workspace, args: Args) -> dict[str, Any]:
    entries = args.json("files")
    if not isinstance(entries, list) or not entries:
        raise SlackError("invalid_arguments", messages=["files must be a non-empty array"])
    uploads: list[UploadedFile] = []
    for entry in entries:
        upload = ws.files.get(str(entry.get("id", ""))) if isinstance(entry, dict) else None
        if upload is None or upload.content is None:
            raise SlackError("file_not_found")
        upload.title = str(entry.get("title") or upload.name)
        uploads.append(upload)
    targets = args.list("channels") or args.list("channel_id")
    channels = [postable_channel(ws, Args({"channel": target})) for target in targets]
    thread_ts = args.str("thread_ts")
    for channel in channels:
        check_thread(channel, thread_ts)
        message = ws.add_message(
            channel.id,
            ws.bot_user_id,
            args.str("initial_comment") or "",
            thread_ts=thread_ts,
            files=[u.to_api(ws) for u in uploads],
        )
        for upload in uploads:
            upload.channels.append(channel.id)
            upload.shared_ts[channel.id] = message.ts
        message.files = [u.to_api(ws) for u in uploads]
    return {"files": [u.to_api(ws) for u in uploads]}


@method("files.info")
def files_info(ws: Workspace, args: Args) -> dict[str, Any]:
    upload = ws.files.get(args.str("file") or "")
    if upload is None or upload.content is None:
        raise SlackError("file_not_found")
    return {"file": upload.to_api(ws), "content": upload.text}
