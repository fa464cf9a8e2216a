"""The communication plan (issue 17): which audiences are told about an incident, through which channel,
and the e-mail they get. Settings, mail composition, the SMTP transport and the outbox live here; the
service that decides *when* an audience is told is `bot.services.communication`."""
