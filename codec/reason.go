package codec

// ReasonCode is an MQTT v5 reason code [MQTT-2.4]. For 3.1.x, CONNACK return
// codes are mapped by ConnackCodeV3.
type ReasonCode = byte

// v5 reason codes.
const (
	Success                    ReasonCode = 0x00 // also Normal disconnection, Granted QoS 0
	GrantedQoS1                ReasonCode = 0x01
	GrantedQoS2                ReasonCode = 0x02
	DisconnectWithWill         ReasonCode = 0x04
	NoMatchingSubscribers      ReasonCode = 0x10
	NoSubscriptionExisted      ReasonCode = 0x11
	ContinueAuthentication     ReasonCode = 0x18
	ReAuthenticate             ReasonCode = 0x19
	UnspecifiedError           ReasonCode = 0x80
	MalformedPacket            ReasonCode = 0x81
	ProtocolError              ReasonCode = 0x82
	ImplementationSpecific     ReasonCode = 0x83
	UnsupportedProtocolVersion ReasonCode = 0x84
	ClientIDNotValid           ReasonCode = 0x85
	BadUsernameOrPassword      ReasonCode = 0x86
	NotAuthorized              ReasonCode = 0x87
	ServerUnavailable          ReasonCode = 0x88
	ServerBusy                 ReasonCode = 0x89
	Banned                     ReasonCode = 0x8A
	ServerShuttingDown         ReasonCode = 0x8B
	BadAuthenticationMethod    ReasonCode = 0x8C
	KeepAliveTimeout           ReasonCode = 0x8D
	SessionTakenOver           ReasonCode = 0x8E
	TopicFilterInvalid         ReasonCode = 0x8F
	TopicNameInvalid           ReasonCode = 0x90
	PacketIDInUse              ReasonCode = 0x91
	PacketIDNotFound           ReasonCode = 0x92
	ReceiveMaximumExceeded     ReasonCode = 0x93
	TopicAliasInvalid          ReasonCode = 0x94
	PacketTooLarge             ReasonCode = 0x95
	MessageRateTooHigh         ReasonCode = 0x96
	QuotaExceeded              ReasonCode = 0x97
	AdministrativeAction       ReasonCode = 0x98
	PayloadFormatInvalid       ReasonCode = 0x99
	RetainNotSupported         ReasonCode = 0x9A
	QoSNotSupported            ReasonCode = 0x9B
	UseAnotherServer           ReasonCode = 0x9C
	ServerMoved                ReasonCode = 0x9D
	SharedSubNotSupported      ReasonCode = 0x9E
	ConnectionRateExceeded     ReasonCode = 0x9F
	MaximumConnectTime         ReasonCode = 0xA0
	SubIDNotSupported          ReasonCode = 0xA1
	WildcardSubNotSupported    ReasonCode = 0xA2
)

// 3.1.x CONNACK return codes [MQTT-3.2.2.3].
const (
	ConnAccepted              byte = 0x00
	ConnRefusedVersion        byte = 0x01
	ConnRefusedIdentifier     byte = 0x02
	ConnRefusedServerUnavail  byte = 0x03
	ConnRefusedBadCredentials byte = 0x04
	ConnRefusedNotAuthorized  byte = 0x05
)

// ConnackCodeV3 maps a v5 CONNACK reason code to the closest 3.1.x return code.
func ConnackCodeV3(rc ReasonCode) byte {
	switch rc {
	case Success:
		return ConnAccepted
	case UnsupportedProtocolVersion:
		return ConnRefusedVersion
	case ClientIDNotValid:
		return ConnRefusedIdentifier
	case BadUsernameOrPassword, BadAuthenticationMethod:
		return ConnRefusedBadCredentials
	case NotAuthorized, Banned:
		return ConnRefusedNotAuthorized
	default:
		return ConnRefusedServerUnavail
	}
}

// Error is a protocol error found while decoding or validating a packet. It
// carries the v5 reason code the server answers with (in a CONNACK during
// CONNECT, in a DISCONNECT afterwards) and the spec rule it enforces.
type Error struct {
	Code ReasonCode
	Rule string // normative statement id, e.g. "MQTT-3.3.2-2"; may be empty
	Text string
}

func (e *Error) Error() string {
	if e.Rule != "" {
		return e.Text + " [" + e.Rule + "]"
	}
	return e.Text
}
