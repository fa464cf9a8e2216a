"""Workflows (issue 19): when this happens, if that holds, do these.

A domain package: the `workflows:` section (`settings`), the pure matching of an event against the
workflows (`match`), the workflow files and their validation (`files`), the signed outgoing webhook
(`webhook`) and the Slack messages (`messages`). The services run the actions; nothing here talks to
the database or to Slack.
"""
